#!/usr/bin/env bash
# scripts/guest-kernel.sh [--stock|--lab] [--modules] CACHE_DIR
#
# Prints the path of the Linux kernel that tests and demos should boot,
# fetching and caching it on first use (a second run is instant and offline).
#   --stock   Debian's cloud kernel (the versioned package that
#             linux-image-cloud-amd64 depends on), unpacked with dpkg -x into
#             CACHE_DIR/debian-cloud-<kernel-version>/; prints its vmlinuz
#             (bzImage). It is also the L1 kernel of the nested KVM test host
#             (tests/e2e/kvmhost), which needs kvm.ko etc. from the same
#             package: --modules prints the modules directory
#             (.../lib/modules/<kernel-version>) instead of the vmlinuz.
#   --lab     the lab guest kernel for PVM-backed /dev/kvm, built once by
#             ../shared/lab/build-guest-kernel.sh into CACHE_DIR/lab; prints
#             its vmlinux.
#   default   --lab if /sys/module/kvm_pvm exists AND /dev/kvm can be opened
#             (a PVM-backed host, where stock kernels cannot run userspace),
#             else --stock.
# Why: stock kernels are what production boots; the lab kernel exists only
# because this lab's PVM-backed KVM cannot run them. Only Debian packages are
# used (apt-get download), nothing else is fetched.
set -euo pipefail
# shellcheck source=progress.sh
. "$(dirname "$0")/progress.sh"

usage() {
    echo "usage: $0 [--stock|--lab] [--modules] CACHE_DIR" >&2
    exit 2
}

mode=""
want_modules=0
cache=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --stock) mode=stock ;;
        --lab) mode=lab ;;
        --modules) want_modules=1 ;;
        -h|--help) usage ;;
        -*) echo "guest-kernel.sh: unknown option '$1'" >&2; usage ;;
        *) [ -z "$cache" ] || usage; cache=$1 ;;
    esac
    shift
done
[ -n "$cache" ] || usage

kvm_usable() {
    [ -c /dev/kvm ] && ( exec 3<>/dev/kvm ) 2>/dev/null
}

if [ -z "$mode" ]; then
    if [ -d /sys/module/kvm_pvm ] && kvm_usable; then mode=lab; else mode=stock; fi
fi

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

if [ "$mode" = lab ]; then
    if [ "$want_modules" -eq 1 ]; then
        echo "guest-kernel.sh: --modules: the lab kernel has its drivers built in" >&2
        exit 2
    fi
    top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null \
          || (cd "$(dirname "$0")/.." && pwd))
    builder="$top/../shared/lab/build-guest-kernel.sh"
    [ -x "$builder" ] || [ -f "$builder" ] || {
        echo "guest-kernel.sh: $builder not found (shared/ must sit beside the repo)" >&2
        exit 1
    }
    # The builder is silent for minutes (make -s): watch its work directory
    # and report the objects compiled so far; say so when its cache answers.
    mkdir -p "$cache/lab"
    labout=$(mktemp)
    sh "$builder" "$cache/lab" >"$labout" &
    bpid=$!
    lab_objects() {
        local n w
        w=$(ls -d "$cache"/lab/build.*/linux-source-6.1 2>/dev/null | head -n 1 || true)
        if [ -z "$w" ]; then echo "lab kernel: unpacking linux-source-6.1"; return; fi
        n=$(find "$w" -name '*.o' 2>/dev/null | wc -l)
        echo "lab kernel: building, $n objects compiled (about 7-11 min once on 2 cores)"
    }
    sleep 1
    if kill -0 "$bpid" 2>/dev/null; then
        progress_note "building the lab guest kernel (../shared/lab/build-guest-kernel.sh; cached afterwards)"
        progress_watch "$bpid" 2 30 lab_objects
        built=1
    else
        built=0
    fi
    wait "$bpid" || { rm -f "$labout"; echo "guest-kernel.sh: lab kernel build failed" >&2; exit 1; }
    out=$(tail -n 1 "$labout")
    rm -f "$labout"
    [ -f "$out" ] || { echo "guest-kernel.sh: lab build gave no kernel" >&2; exit 1; }
    if [ "$built" = 1 ]; then progress_note "lab kernel built: $out"; else progress_note "reusing the cached lab kernel $out"; fi
    echo "$out"
    exit 0
fi

# --- stock: Debian cloud kernel ---------------------------------------------

print_stock() {  # $1 = unpacked dir
    local dir=$1 kver
    kver=$(cat "$dir/.kver")
    if [ "$want_modules" -eq 1 ]; then
        echo "$dir/lib/modules/$kver"
    else
        echo "$dir/boot/vmlinuz-$kver"
    fi
}

# Newest complete cache entry, for offline fallback.
newest_cached() {
    local d best=""
    for d in "$cache"/debian-cloud-*/; do
        [ -f "$d/.complete" ] || continue
        best=${d%/}
    done
    [ -n "$best" ] && echo "$best"
}

resolve_pkg() {  # prints the versioned image package, e.g. linux-image-6.1.0-56-cloud-amd64
    apt-cache depends linux-image-cloud-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1
}

# apt-cache takes ~1 s; remember its answer until the apt lists change.
memo="$cache/.cloud-resolve"
lists_key=$(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo none)
pkg=""
if [ -f "$memo" ]; then
    read -r mkey mpkg < "$memo" || true
    [ "${mkey:-}" = "$lists_key" ] && pkg=${mpkg:-}
fi
if [ -z "$pkg" ]; then
    pkg=$(resolve_pkg || true)
    [ -z "$pkg" ] || printf '%s %s\n' "$lists_key" "$pkg" > "$memo"
fi
if [ -z "$pkg" ]; then
    # No apt lists yet (fresh machine) or offline: use the cache if it has one.
    if d=$(newest_cached); then print_stock "$d"; exit 0; fi
    if [ "$(id -u)" -eq 0 ]; then
        echo "guest-kernel.sh: refreshing apt lists" >&2
        apt-get update -q >&2
        pkg=$(resolve_pkg || true)
    fi
    [ -n "$pkg" ] || { echo "guest-kernel.sh: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
fi
kver=${pkg#linux-image-}
dir="$cache/debian-cloud-$kver"

if [ -f "$dir/.complete" ]; then
    [ -n "${GUEST_KERNEL_QUIET:-}" ] || progress_note "reusing the cached $pkg ($dir)"
    print_stock "$dir"
    exit 0
fi

tmp=$(mktemp -d "$cache/.dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
size=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Size: //p' | head -n 1)
progress_note "fetching $pkg${size:+ ($((size / 1048576)) MiB)} with apt-get download (once; cached in $cache)"
# apt draws its own progress bar on a terminal; in a log, -q keeps it to lines.
if [ "$PROGRESS_TTY" = 1 ]; then aptq=(); else aptq=(-q); fi
if ! (cd "$tmp" && apt-get download "${aptq[@]}" -o APT::Sandbox::User=root "$pkg" >&2); then
    if d=$(newest_cached); then
        echo "guest-kernel.sh: download failed; using cached $d" >&2
        print_stock "$d"
        exit 0
    fi
    echo "guest-kernel.sh: apt-get download $pkg failed" >&2
    exit 1
fi
deb=$(ls "$tmp"/*.deb)
mkdir -p "$tmp/x"
t0=$(date +%s)
dpkg -x "$deb" "$tmp/x" &
xpid=$!
unpacked() { echo "unpacking $(basename "$deb"): $(du -sm "$tmp/x" 2>/dev/null | cut -f1) MiB written"; }
progress_watch "$xpid" 1 10 unpacked
wait "$xpid"
progress_note "unpacked $(basename "$deb") in $(($(date +%s) - t0)) s"
[ -f "$tmp/x/boot/vmlinuz-$kver" ] || { echo "guest-kernel.sh: $deb has no boot/vmlinuz-$kver" >&2; exit 1; }
printf '%s\n' "$kver" > "$tmp/x/.kver"
dpkg-deb -f "$deb" Version > "$tmp/x/.pkgversion"
touch "$tmp/x/.complete"
rm -rf "$dir"
mv "$tmp/x" "$dir"
print_stock "$dir"
