#!/usr/bin/env bash
# scripts/deps.sh [build|check|demo|bench]...
#
# Installs the Debian packages bulkhead needs for one purpose, and only the
# ones that are missing.
#   build : compile bulkhead, its unit tests and fuzzers (clang + libFuzzer)
#   check : build + what the end-to-end tests need (QEMU for the nested KVM
#           test host, busybox/klibc and cpio for initramfs images, e2fsprogs)
#   demo  : same as check (boots a real guest)
#   bench : build + QEMU + gnuplot for plots
# Why: machines are handed over fresh; the project's own files must install
# what it needs. Installed packages are detected with dpkg-query first, so a
# repeat run is fast and needs no network; `apt-get update` runs only when
# something must be installed. Only Debian packages via apt-get are used.
# As root it installs; otherwise it prints the exact command and fails.
set -euo pipefail

usage() {
    echo "usage: $0 [build|check|demo|bench]..." >&2
    exit 2
}

# The packaging tests (tests/pkg): building the .deb (dpkg-dev, debhelper),
# lintian, man page linting (mandoc, groff-base, man-db), systemd for
# systemd-analyze verify / systemd-socket-activate / systemd-sysusers, passwd
# (useradd) for the test users, zsh to parse the zsh completion.
pkg_pkgs=(dpkg-dev debhelper lintian mandoc groff-base man-db systemd passwd zsh)

# libmicrohttpd-dev, libjson-c-dev, libcurl4-openssl-dev: bulkheadd's HTTP
# server, JSON for VM configs and the API, the CLI's HTTP client (unix socket).
build_pkgs=(build-essential meson ninja-build pkg-config liblz4-dev libzstd-dev
            liblzma-dev zlib1g-dev libbz2-dev libcmocka-dev clang libclang-rt-14-dev
            liburing-dev libseccomp-dev libmicrohttpd-dev libjson-c-dev
            libcurl4-openssl-dev libssl-dev help2man)
# libssl-dev: libcrypto's SHA-256 (snapshot manifests, the kernel cache key),
# which uses the CPU's SHA extensions; see src/common/sha256.h.
# help2man: the man pages are generated from the built programs' --help.
# liburing-dev: virtio-blk's asynchronous disk I/O (io_uring), see
# src/backends/block_file.h
# libseccomp-dev: the VM process's seccomp-bpf filters (src/sandbox).
# binutils (strings) is pulled in by build-essential; listed for clarity.
# python3: the daemon API tests' raw HTTP client (malformed requests);
# python3-yaml: tests/e2e/config_schema.py reads api/openapi.yaml;
# util-linux (setpriv): running the CLI as another uid in those tests.
# mmdebstrap: builds `bulkhead exec`'s default root filesystem (a minimal
# Debian 12) from the Debian mirror; erofs-utils (mkfs.erofs): packs it, and
# any `bulkhead exec --rootfs DIR`, as a read-only EROFS image
# (scripts/prepare-exec.sh).
exec_pkgs=(mmdebstrap erofs-utils)
# passt: the switch's uplink to the outside (`bulkhead switch --uplink`,
# src/switch/passt.h) and the net stage's uplink tests, which run the real
# passt inside network namespaces they create.
# socat: the hybrid-vsock client of the vsock end-to-end test
# (tests/unit/vmm/test_vsock_vm.c), as users reach a guest's vsock port.
guest_pkgs=(qemu-system-x86 busybox-static klibc-utils cpio e2fsprogs binutils python3 python3-yaml
            util-linux socat passt "${exec_pkgs[@]}" "${pkg_pkgs[@]}")
bench_pkgs=(qemu-system-x86 gnuplot-nox)

[ "$#" -gt 0 ] || set -- build

want=()
for purpose in "$@"; do
    case "$purpose" in
        build) want+=("${build_pkgs[@]}") ;;
        check|demo) want+=("${build_pkgs[@]}" "${guest_pkgs[@]}") ;;
        bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
        -h|--help) usage ;;
        *) echo "deps.sh: unknown purpose '$purpose'" >&2; usage ;;
    esac
done

# De-duplicate while keeping order.
declare -A seen=()
missing=()
for p in "${want[@]}"; do
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps.sh: all packages for '$*' are installed" >&2
    exit 0
fi

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    echo "deps.sh: run as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive ${cmd[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing: ${missing[*]}" >&2
apt-get update -q >&2
apt-get "${cmd[@]:1}" -q >&2
