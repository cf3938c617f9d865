#!/usr/bin/env bash
# tests/e2e/kvmhost/env.sh — where can KVM tests run on this machine?
#
#   source tests/e2e/kvmhost/env.sh; mode=$(kvm_available)
#   tests/e2e/kvmhost/env.sh            # prints the same
#
# Prints one word:
#   native  /dev/kvm is a character device that opens: run the tests directly (on a
#           PVM-backed /dev/kvm, scripts/guest-kernel.sh picks the lab kernel)
#   nested  no usable /dev/kvm, but QEMU, busybox-static and Debian's cloud
#           kernel are available: run the tests inside the nested KVM test
#           host, tests/e2e/kvmhost/run.sh (QEMU TCG emulating AMD SVM)
#   none    neither (install with scripts/deps.sh check)
# Why: CI and development machines may lack /dev/kvm entirely (they are
# guests without VMX/SVM); tests must pick the way that works, or skip.
# Checking "nested" may fetch and cache the cloud kernel once (apt-get
# download into the cache; BULKHEAD_CACHE or <repo>/.cache).

kvm_available() {
    local here repo cache
    if [ -c /dev/kvm ] && ( exec 3<>/dev/kvm ) 2>/dev/null; then
        echo native
        return 0
    fi
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    repo=$(cd "$here/../../.." && pwd)
    cache=${BULKHEAD_CACHE:-$repo/.cache}
    if command -v qemu-system-x86_64 >/dev/null 2>&1 && [ -x /bin/busybox ] \
        && command -v cpio >/dev/null 2>&1 && command -v strings >/dev/null 2>&1 \
        && "$repo/scripts/guest-kernel.sh" --stock "$cache" >/dev/null 2>&1; then
        echo nested
        return 0
    fi
    echo none
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    kvm_available
fi
