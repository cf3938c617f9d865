#!/usr/bin/env bash
# scripts/demo.sh BUILD_DIR CACHE_DIR — what `make demo` shows: boot the default
# guest with 2 vCPUs and 256 MiB, let its init run uname -a / nproc / MemTotal,
# print what it printed, exit 0 when the guest rebooted cleanly.
# Where /dev/kvm works, bulkhead runs right here. Where it does not (this lab's
# machines: PVM guests without VMX/SVM), it runs inside the nested KVM host
# (tests/e2e/kvmhost: QEMU TCG emulating an AMD CPU with SVM, Debian's cloud
# kernel with kvm-amd), which is real KVM but emulated, so much slower.
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR CACHE_DIR}
cache=${2:?usage: demo.sh BUILD_DIR CACHE_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
guest=$cache/guests/default
mode=$("$root/tests/e2e/kvmhost/env.sh")

echo "bulkhead demo: guest = $(cat "$guest/about")"
echo "bulkhead demo: KVM here = $mode"
args=(run --guest "$guest" --cpus 2 --mem 256M)
case "$mode" in
native)
	echo "+ bulkhead ${args[*]}"
	exec "$build/bulkhead" "${args[@]}"
	;;
nested)
	echo "bulkhead demo: no usable /dev/kvm on this machine; running bulkhead inside the"
	echo "  nested KVM host (QEMU TCG + SVM emulation, real KVM one level down: slow but real)"
	echo "+ bulkhead ${args[*]}"
	exec "$root/tests/e2e/kvmhost/run.sh" --timeout 900 --idle-timeout 300 --mem 2048 --cpus 1 \
		--add "$build/bulkhead:/t/bulkhead" --add "$guest:/t/guest" \
		-- "/t/bulkhead run --guest /t/guest --cpus 2 --mem 256M"
	;;
*)
	echo "bulkhead demo: cannot run: no /dev/kvm and no nested KVM host (qemu-system-x86)" >&2
	exit 1
	;;
esac
