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
# Idempotent and cached: a second run is instant and offline. When
# BULKHEAD_GUESTS_LINK is unset it also points ~/.cache/bulkhead/guests/default
# at this directory, so `bulkhead run --guest default` finds it.
set -euo pipefail
want_stock=0
if [ "${1:-}" = --stock ]; then want_stock=1; shift; fi
cache=${1:?usage: prepare-guest.sh [--stock] CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
dir=$cache/guests/default
[ "$want_stock" = 0 ] || dir=$cache/guests/stock
mkdir -p "$dir"

# PVM-backed host: kvm_pvm loaded AND /dev/kvm a character device that opens
# (read-only: never create anything at that path).
pvm=0
modadds=()
if [ "$want_stock" = 0 ] && [ -e /sys/module/kvm_pvm ] && [ -c /dev/kvm ] && { exec 3</dev/kvm; } 2>/dev/null; then
	exec 3<&-
	pvm=1
fi

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
fi

ln -sfn "$kernel" "$dir/kernel"
if [ ! -s "$dir/initrd" ] || [ "$here/mk-initramfs.sh" -nt "$dir/initrd" ] ||
	[ "$0" -nt "$dir/initrd" ]; then
	echo "prepare-guest.sh: building the initramfs (busybox-static, $((${#modadds[@]} / 2)) virtio modules)" >&2
	"$here/mk-initramfs.sh" "$dir/initrd.tmp" --busybox "${modadds[@]+"${modadds[@]}"}" >/dev/null
	mv "$dir/initrd.tmp" "$dir/initrd"
	echo "prepare-guest.sh: initramfs ready: $dir/initrd ($(($(stat -c %s "$dir/initrd") / 1024)) KiB)" >&2
else
	echo "prepare-guest.sh: reusing the cached initramfs $dir/initrd" >&2
fi
printf '%s\n' "$cmdline" >"$dir/cmdline"
printf '%s\n' "$about" >"$dir/about"

if [ "$want_stock" = 0 ] && [ -z "${BULKHEAD_GUESTS_LINK+x}" ] && [ -n "${HOME:-}" ]; then
	mkdir -p "$HOME/.cache/bulkhead/guests"
	if [ "$HOME/.cache/bulkhead/guests/default" != "$dir" ]; then
		ln -sfn "$dir" "$HOME/.cache/bulkhead/guests/default"
	fi
fi
echo "$dir"
