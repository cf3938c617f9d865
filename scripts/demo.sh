#!/usr/bin/env bash
# scripts/demo.sh BUILD_DIR CACHE_DIR — what `make demo` shows:
#   1. boot the default guest with 2 vCPUs and 256 MiB, let its init run
#      uname -a / nproc / MemTotal, print what it printed (exit 0 when the
#      guest rebooted cleanly);
#   2. `bulkhead exec`: a program in a throwaway VM of its own (the exec
#      guest and its agent over vsock), its stdout and stderr kept apart,
#      its own exit status (3) passed through, nothing of the VM left after.
# Where /dev/kvm works (hardware, or this lab's PVM-backed KVM with the lab
# kernel), bulkhead runs right here, and exec runs the program in the
# default root filesystem, a minimal Debian 12 with python3 (mmdebstrap,
# built once by scripts/prepare-exec.sh: a few minutes and ~50 MB of
# downloads the first time). Where it does not, both run inside the nested
# KVM host (tests/e2e/kvmhost: QEMU TCG emulating an AMD CPU with SVM,
# Debian's cloud kernel with kvm-amd), which is real KVM but emulated, so
# much slower: there exec uses the busybox root filesystem
# (scripts/mk-exec-rootfs-busybox.sh), which boots in seconds.
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR CACHE_DIR}
cache=${2:?usage: demo.sh BUILD_DIR CACHE_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
guest=$cache/guests/default
mode=$("$root/tests/e2e/kvmhost/env.sh")

echo "bulkhead demo: guest = $(cat "$guest/about")"
echo "bulkhead demo: KVM here = $mode"
args=(run --guest "$guest" --cpus 2 --mem 256M)
# The program exec runs: where it is, as whom, what it sees; exit 3.
prog='echo "hello from $(uname -n) ($(uname -r)), uid $(id -u), $(nproc) vCPU(s)"; echo "network devices: $(sed -n "3,\$s/:.*//p" /proc/net/dev | tr -d " " | tr "\n" " ")"; echo "devices: $(ls /dev | tr "\n" " ")"; if command -v python3 >/dev/null; then python3 -c "import sys; print(\"python\", sys.version.split()[0])"; fi; echo "this line goes to stderr" >&2; exit 3'
exec_intro() {
	echo
	echo "bulkhead demo: now an untrusted program in a throwaway VM: bulkhead exec"
	echo "+ bulkhead exec --timeout 10m -- sh -c '...; exit 3'"
}
case "$mode" in
native)
	echo "+ bulkhead ${args[*]}"
	"$build/bulkhead" "${args[@]}"
	# The exec guest (the agent, vsock) and the Debian 12 root filesystem.
	"$root/scripts/prepare-exec.sh" "$build" "$cache" >/dev/null
	exec_intro
	rc=0
	tmp=$(mktemp -d)
	TMPDIR=$tmp "$build/bulkhead" exec --guest "$cache/guests/exec" \
		--rootfs "$cache/rootfs/debian12.erofs" --mem 256M --timeout 10m --boot-timeout 20m \
		-- sh -c "$prog" || rc=$?
	left=$(ls -A "$tmp")
	rmdir "$tmp" 2>/dev/null || true
	echo "bulkhead demo: bulkhead exec exited $rc (the program's own status, 3);" \
		"left on the host: ${left:-nothing}"
	[ "$rc" = 3 ] && [ -z "$left" ]
	;;
nested)
	echo "bulkhead demo: no usable /dev/kvm on this machine; running bulkhead inside the"
	echo "  nested KVM host (QEMU TCG + SVM emulation, real KVM one level down: slow but real)"
	echo "+ bulkhead ${args[*]}"
	xguest=$("$root/scripts/prepare-exec.sh" "$build" "$cache" --stock-guest 2>/dev/null | tail -n 1)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	"$root/scripts/mk-exec-rootfs-busybox.sh" "$tmp/rootfs.erofs" >/dev/null
	printf '%s\n' "$prog" >"$tmp/prog"
	cat >"$tmp/demo-nested.sh" <<'EON'
#!/bin/sh
/t/bulkhead run --guest /t/guest --cpus 2 --mem 256M || exit $?
echo
echo "bulkhead demo: now an untrusted program in a throwaway VM: bulkhead exec"
echo "+ bulkhead exec --timeout 10m -- sh -c '...; exit 3'    (busybox root filesystem)"
mkdir -p /tmp/x
TMPDIR=/tmp/x /t/bulkhead exec --guest /t/exec-guest --rootfs /t/rootfs.erofs --mem 256M \
	--timeout 10m -- sh -c "$(cat /t/prog)"
rc=$?
left=$(ls -A /tmp/x)
echo "bulkhead demo: bulkhead exec exited $rc (the program's own status, 3); left on the host: ${left:-nothing}"
[ "$rc" = 3 ] && [ -z "$left" ]
EON
	chmod +x "$tmp/demo-nested.sh"
	"$root/tests/e2e/kvmhost/run.sh" --timeout 900 --idle-timeout 300 --mem 2048 --cpus 1 \
		--add "$build/bulkhead:/t/bulkhead" --add "$guest:/t/guest" \
		--add "$xguest:/t/exec-guest" --add "$tmp/rootfs.erofs:/t/rootfs.erofs" \
		--add "$tmp/prog:/t/prog" --add "$tmp/demo-nested.sh:/t/demo.sh" -- /t/demo.sh
	;;
*)
	echo "bulkhead demo: cannot run: no /dev/kvm and no nested KVM host (qemu-system-x86)" >&2
	exit 1
	;;
esac
