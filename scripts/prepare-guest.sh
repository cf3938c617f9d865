#!/usr/bin/env bash
# scripts/prepare-guest.sh [--stock] CACHE_DIR
#
# Prepares the default guest in CACHE_DIR/guests/default/ (what
# `bulkhead run --guest default` and `make demo` boot), or with --stock the
# stock-kernel guest in CACHE_DIR/guests/stock/ on every kind of host (what
# the tests and benchmarks that prove the stock kernel boot, natively or in
# the nested KVM host; it needs no lab kernel build):
#   kernel   Debian's stock cloud kernel (bzImage; bulkhead decompresses its
#            payload on the host) - or, on a PVM-backed host whose /dev/kvm
#            cannot run stock kernels' userspace, the lab kernel built from
#            Debian's linux-source (../shared/lab);
#   initrd   an uncompressed busybox-static initramfs whose init prints
#            uname -a, nproc, MemTotal, runs /cmd if present, then reboots;
#   cmdline  the kernel command line for that kernel;
#   about    one line saying which kernel was chosen and why.
# Idempotent and cached: a second run is instant and offline. It also
# installs a copy as the user's default guest (see install_user_guest below),
# so `bulkhead run --guest default` finds it from anywhere.
#
# With --exec AGENT it prepares `bulkhead exec`'s guest instead, in
# CACHE_DIR/guests/exec (and the user's guests/exec): the same kernel choice,
# an initramfs whose init (guest/init/exec-init) mounts the root filesystem
# image (/dev/vda, read-only) under a throwaway tmpfs overlay and starts the
# guest agent AGENT (guest/agent, static) on vsock; on the stock kernel it
# also ships and loads the vsock, EROFS and overlay modules. With --stock
# --exec AGENT: that guest on the stock kernel on every kind of host, in
# CACHE_DIR/guests/exec-stock (the exec suite in the nested KVM host; never
# installed as the user's).
set -euo pipefail
want_stock=0
agent=""
if [ "${1:-}" = --stock ]; then want_stock=1; shift; fi
if [ "${1:-}" = --exec ]; then agent=${2:?usage: prepare-guest.sh --exec AGENT CACHE_DIR}; shift 2; fi
cache=${1:?usage: prepare-guest.sh [--stock] [--exec AGENT] CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
name=default
[ "$want_stock" = 0 ] || name=stock
[ -z "$agent" ] || name=exec
[ -z "$agent" ] || [ "$want_stock" = 0 ] || name=exec-stock
dir=$cache/guests/$name
mkdir -p "$dir"

# PVM-backed host: kvm_pvm loaded AND /dev/kvm a character device that opens
# (read-only: never create anything at that path).
# BULKHEAD_HOST_KIND=pvm|hardware|none forces the decision, as it does for
# the test suites (tests/e2e/kvmhost/env.sh).
pvm=0
modadds=()
case "${BULKHEAD_HOST_KIND:-}" in
'')
	if [ -e /sys/module/kvm_pvm ] && [ -c /dev/kvm ] && { exec 3</dev/kvm; } 2>/dev/null; then
		exec 3<&-
		pvm=1
	fi ;;
pvm) pvm=1 ;;
hardware|none) ;;
*) echo "prepare-guest.sh: BULKHEAD_HOST_KIND=$BULKHEAD_HOST_KIND: expected pvm, hardware or none" >&2
	exit 2 ;;
esac
[ "$want_stock" = 0 ] || pvm=0

if [ "$pvm" = 1 ]; then
	kernel=$("$here/guest-kernel.sh" --lab "$cache")
	# From ../shared/lab/README.md: what this lab's emulated ring 0 needs.
	cmdline="console=ttyS0 panic=-1 reboot=k nr_cpus=64 noxsave clearcpuid=cx16,rdrand,rdseed,popcnt,smap nopcid noinvpcid nofsgsbase mitigations=off tsc=reliable no_timer_check rcupdate.rcu_expedited=1 rodata=off noreplace-smp"
	about="lab kernel ($kernel): this host's /dev/kvm is PVM-backed and cannot run a stock kernel's userspace (see ../shared/lab/README.md)"
else
	kernel=$("$here/guest-kernel.sh" --stock "$cache")
	cmdline="console=ttyS0 panic=-1 quiet loglevel=4"
	about="Debian stock cloud kernel ($(basename "$kernel")), booted unmodified"
	# Its virtio drivers are modules: ship them, numbered in dependency
	# order; the init loads /lib/modules/bulkhead/*.ko in glob order.
	moddir=$("$here/guest-kernel.sh" --stock --modules "$cache")
	n=10
	for m in drivers/virtio/virtio_ring drivers/virtio/virtio \
		drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev \
		drivers/virtio/virtio_pci drivers/block/virtio_blk drivers/char/virtio_console \
		drivers/char/hw_random/virtio-rng; do
		if [ -f "$moddir/kernel/$m.ko" ]; then
			modadds+=(--add "$moddir/kernel/$m.ko:/lib/modules/bulkhead/$n-$(basename "$m").ko")
			n=$((n + 1))
		fi
	done
	# exec: vsock (the agent's channel), EROFS (the root image), overlay
	[ -z "$agent" ] || for m in net/vmw_vsock/vsock net/vmw_vsock/vmw_vsock_virtio_transport_common \
		net/vmw_vsock/vmw_vsock_virtio_transport lib/libcrc32c fs/erofs/erofs \
		fs/overlayfs/overlay; do
		if [ -f "$moddir/kernel/$m.ko" ]; then
			modadds+=(--add "$moddir/kernel/$m.ko:/lib/modules/bulkhead/$n-$(basename "$m").ko")
			n=$((n + 1))
		fi
	done
fi

ln -sfn "$kernel" "$dir/kernel"
if [ ! -s "$dir/initrd" ] || [ "$here/mk-initramfs.sh" -nt "$dir/initrd" ] ||
	[ "$0" -nt "$dir/initrd" ] || { [ -n "$agent" ] && { [ "$agent" -nt "$dir/initrd" ] ||
	[ "$here/../guest/init/exec-init" -nt "$dir/initrd" ]; }; }; then
	echo "prepare-guest.sh: building the initramfs (busybox-static, $((${#modadds[@]} / 2)) modules)" >&2
	extra=()
	[ -z "$agent" ] || extra=(--init "$here/../guest/init/exec-init" --add "$agent:/bin/bulkhead-agent")
	"$here/mk-initramfs.sh" "$dir/initrd.tmp" --busybox "${modadds[@]+"${modadds[@]}"}" \
		"${extra[@]+"${extra[@]}"}" >/dev/null
	mv "$dir/initrd.tmp" "$dir/initrd"
	echo "prepare-guest.sh: initramfs ready: $dir/initrd ($(($(stat -c %s "$dir/initrd") / 1024)) KiB)" >&2
else
	echo "prepare-guest.sh: reusing the cached initramfs $dir/initrd" >&2
fi
printf '%s\n' "$cmdline" >"$dir/cmdline"
printf '%s\n' "$about" >"$dir/about"

# The user's default guest (`bulkhead run --guest default`) lives in the
# user's cache, content-addressed: GUESTS/sha256-<hash of kernel, initrd,
# cmdline> holds copies of the files (never links into this working tree,
# which may move or be deleted), and GUESTS/default is a relative symlink to
# it, replaced atomically. Checkouts that prepare the same guest share one
# copy; the last `make guest` decides what `default` is. Older copies stay
# until removed. BULKHEAD_GUESTS_LINK set (to anything): leave the user's
# cache alone.
install_user_guest() {
	local base guests sum dst tmp
	base=${XDG_CACHE_HOME:-${HOME:-}/.cache}
	[ "$base" != /.cache ] || return 0
	guests=$base/bulkhead/guests
	mkdir -p "$guests"
	sum=$(cd "$dir" && sha256sum -- kernel initrd cmdline | sha256sum | cut -c1-32)
	dst=$guests/sha256-$sum
	if [ ! -f "$dst/cmdline" ]; then
		tmp=$(mktemp -d "$guests/.tmp.XXXXXX")
		cp -L -- "$dir/kernel" "$dir/initrd" "$dir/about" "$tmp/"
		cp -- "$dir/cmdline" "$tmp/cmdline" # last: its presence marks a complete copy
		chmod 755 "$tmp"
		mv -T -- "$tmp" "$dst" 2>/dev/null || rm -rf -- "$tmp" # lost a race: same content
	fi
	if [ -d "$guests/$name" ] && [ ! -L "$guests/$name" ]; then
		echo "prepare-guest.sh: $guests/$name is a directory of your own: left as it is" \
			"(the prepared guest is $dst)" >&2
		return 0
	fi
	ln -sfn "sha256-$sum" "$guests/.$name.$$"
	mv -Tf -- "$guests/.$name.$$" "$guests/$name"
}
# --stock prepares the tests' guests: they never become the user's.
if [ "$want_stock" = 0 ] && [ -z "${BULKHEAD_GUESTS_LINK+x}" ]; then
	install_user_guest
fi
echo "$dir"
