#!/usr/bin/env bash
# tests/e2e/kvmhost/env.sh — what kind of host is this, and where can each
# KVM test suite or benchmark group run faithfully on it?
#
#   source tests/e2e/kvmhost/env.sh
#   host_kind              hardware | pvm | none
#   kvm_available          native | nested | none   (where KVM exists at all)
#   suite_mode SUITE       native | nested | skip, then ": why" (one line)
#   tests/e2e/kvmhost/env.sh              prints kvm_available's word
#   tests/e2e/kvmhost/env.sh --kind       prints host_kind
#   tests/e2e/kvmhost/env.sh SUITE...     prints "SUITE: suite_mode" per SUITE
#
# The three kinds of host (../shared/design/environment.md, README.md):
#   hardware  /dev/kvm opens and is not PVM (VT-x/AMD-V): everything runs here.
#   pvm       /dev/kvm opens, /sys/module/kvm_pvm exists: the KVM API is real
#             but PVM runs the guest's ring 0 by emulation, cannot run a
#             stock kernel's userspace ("KVM internal error: suberror 1"),
#             and ring-3 port I/O gets #GP (the host grants no IOPL). Suites
#             that need either run in the nested KVM host; the rest natively.
#   none      no usable /dev/kvm (this project's CI and development machines):
#             every KVM suite runs in the nested KVM host
#             (tests/e2e/kvmhost/run.sh: QEMU TCG emulating AMD SVM).
# BULKHEAD_HOST_KIND=hardware|pvm|none forces the kind, so each decision
# path can be exercised on any machine (e.g. BULKHEAD_HOST_KIND=pvm on a
# machine without /dev/kvm). A suite is only ever "native" where /dev/kvm
# really opens: a forced kind without it sends native suites to the nested
# host and says so.
# What each suite needs (suite_needs below) is the one table to update when
# a suite changes. Checking "nested" may fetch and cache the cloud kernel
# once (apt-get download into BULKHEAD_CACHE or <repo>/.cache).

kvm_opens() {
    [ -c /dev/kvm ] && ( exec 3<>/dev/kvm ) 2>/dev/null
}

# The host's kind (see top). Unknown BULKHEAD_HOST_KIND: an error naming it.
host_kind() {
    case "${BULKHEAD_HOST_KIND:-}" in
    hardware | pvm | none) echo "$BULKHEAD_HOST_KIND"; return 0 ;;
    "") ;;
    *)
        echo "env.sh: BULKHEAD_HOST_KIND='$BULKHEAD_HOST_KIND': expected hardware, pvm or none" >&2
        return 2
        ;;
    esac
    if kvm_opens; then
        if [ -d /sys/module/kvm_pvm ]; then echo pvm; else echo hardware; fi
    else
        echo none
    fi
}

# Can the nested KVM host run here? (QEMU, busybox-static, cpio, binutils'
# strings and Debian's cloud kernel with its kvm modules.)
nested_possible() {
    local here repo cache
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    repo=$(cd "$here/../../.." && pwd)
    cache=${BULKHEAD_CACHE:-$repo/.cache}
    command -v qemu-system-x86_64 >/dev/null 2>&1 && [ -x /bin/busybox ] \
        && command -v cpio >/dev/null 2>&1 && command -v strings >/dev/null 2>&1 \
        && "$repo/scripts/guest-kernel.sh" --stock "$cache" >/dev/null 2>&1
}

kvm_available() {
    local kind
    kind=$(host_kind) || { echo none; return 0; }
    if [ "$kind" != none ] && kvm_opens; then
        echo native
    elif nested_possible; then
        echo nested
    else
        echo none
    fi
}

# What a suite needs that a PVM-backed /dev/kvm cannot give:
#   stock-kernel  boots Debian's unmodified kernel to userspace
#   ring3-pio     guests that do port I/O from ring 3 (IOPL 3)
# Suites: the KVM stage of tests/check.sh (kvm, virtio-linux, exec, sandbox, daemon)
# and the groups of make bench (bench-<group>, bench/bhbench.c).
suite_needs() {
    case "$1" in
    kvm) echo "stock-kernel ring3-pio" ;;       # tests/e2e/kvm_tests.sh: cases.txt + 3 boots
    virtio-linux) echo "stock-kernel" ;;        # tests/e2e/virtio_linux.sh
    sandbox) echo "ring3-pio" ;;                # hostile guests (unmapped, virtio_hostile...)
    daemon) echo "stock-kernel" ;;              # the graceful stop boots the stock kernel
    exec) echo "stock-kernel" ;;                # tests/e2e/exec_suite.sh: the exec guest on the stock kernel
    bench-startup | bench-footprint | bench-churn | bench-density | bench-place | bench-snapshot) echo "" ;; # ring 0 only
    bench-net) echo "" ;; # port I/O in ring 0 only, the data path (memory, MMIO) in ring 3
    bench-exits | bench-blk) echo "ring3-pio" ;; # the measured loops run in ring 3
    bench-linux | bench-balloon) echo "stock-kernel" ;;
    bench-exec) echo "stock-kernel" ;; # the exec guest on the stock kernel (bench/exec.c)
    *) echo "env.sh: unknown suite '$1'" >&2; return 2 ;;
    esac
}

# One line: "native: why", "nested: why" or "skip: why".
suite_mode() {
    local suite=$1 kind needs why=""
    needs=$(suite_needs "$suite") || { echo "skip: unknown suite '$suite' (env.sh suite_needs)"; return 0; }
    kind=$(host_kind) || { echo "skip: BULKHEAD_HOST_KIND='$BULKHEAD_HOST_KIND' is not hardware, pvm or none"; return 0; }
    case "$kind" in
    hardware)
        kvm_opens && { echo "native: hardware KVM runs everything"; return 0; }
        why="hardware KVM forced (BULKHEAD_HOST_KIND) but /dev/kvm does not open here"
        ;;
    pvm)
        case " $needs " in
        *" stock-kernel "*)
            why="PVM-backed /dev/kvm: a stock kernel cannot run its userspace there (emulation failure)" ;;
        *" ring3-pio "*)
            why="PVM-backed /dev/kvm: guest port I/O from ring 3 gets #GP there (no IOPL)" ;;
        *)
            if kvm_opens; then
                echo "native: PVM-backed /dev/kvm runs it (ring-0 test guests, no stock kernel)"
                return 0
            fi
            why="PVM decision path forced (BULKHEAD_HOST_KIND=pvm) but /dev/kvm does not open here" ;;
        esac
        ;;
    none) why="no usable /dev/kvm" ;;
    esac
    if nested_possible; then
        echo "nested: $why; in the nested KVM host (QEMU TCG emulating SVM)"
    else
        echo "skip: $why, and the nested KVM host cannot run (scripts/deps.sh check installs QEMU, busybox-static, cpio, binutils; the cloud kernel needs apt)"
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
    "") kvm_available ;;
    --kind) host_kind ;;
    *) for s in "$@"; do echo "$s: $(suite_mode "$s")"; done ;;
    esac
fi
