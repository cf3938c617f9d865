#!/usr/bin/env bash
# scripts/mk-initramfs.sh OUT.cpio [--busybox|--klibc] [--init FILE] [--add SRC:DST]...
#
# Builds an uncompressed newc cpio initramfs for a test/demo guest.
#   --busybox      (default) busybox-static at /bin/busybox with a symlink per
#                  applet (sh, mount, cat, uname, nproc, grep, dd, reboot, ...)
#   --klibc        klibc-utils (sh, mount, cat, dd, uname, reboot, ...; ~200 KB,
#                  boots ~15 s faster than busybox on the lab's PVM-backed KVM)
#   --init FILE    becomes /init (mode 0755). Without it a default init is
#                  used: mounts proc/sys/devtmpfs, prints BULKHEAD-GUEST-READY,
#                  loads /lib/modules/bulkhead/*.ko in name order (drivers a
#                  stock kernel has as modules, e.g. virtio; prepare-guest.sh
#                  adds them), uname -a, the CPU count, MemTotal, /proc/cmdline, pokes the
#                  boot-timer port 0x440 through /dev/port when it exists, runs
#                  /cmd if present, prints BULKHEAD-GUEST-DONE and powers off
#                  (ACPI S5), or reboots if that fails (the VMM treats the i8042
#                  reset as a clean exit).
#   --add SRC:DST  copies SRC (file or directory) to DST inside the image (a DST
#                  ending in / keeps SRC's name; symlinks are followed). A
#                  dynamically linked ELF (also inside a directory) also
#                  brings its shared libraries and the dynamic loader (from
#                  ldd), at the same absolute paths as on the host, so programs
#                  from the build run inside the guest.
# Why uncompressed: decompression in a slow (emulated) guest costs more than
# the bigger image. Why /dev/console: the kernel opens it for init's stdio;
# it is created when running as root (CI is root), else the kernel's built-in
# default initramfs supplies it. The archive is reproducible: sorted names,
# mtime 0, owner 0:0, device-independent inode numbers.
set -euo pipefail

usage() {
    echo "usage: $0 OUT.cpio [--busybox|--klibc] [--init FILE] [--add SRC:DST]..." >&2
    exit 2
}

out=""
flavour=busybox
init=""
adds=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --busybox) flavour=busybox ;;
        --klibc) flavour=klibc ;;
        --init) [ "$#" -ge 2 ] || usage; init=$2; shift ;;
        --add) [ "$#" -ge 2 ] || usage; adds+=("$2"); shift ;;
        -h|--help) usage ;;
        -*) echo "mk-initramfs.sh: unknown option '$1'" >&2; usage ;;
        *) [ -z "$out" ] || usage; out=$1 ;;
    esac
    shift
done
[ -n "$out" ] || usage
[ -z "$init" ] || [ -f "$init" ] || { echo "mk-initramfs.sh: no such init: $init" >&2; exit 1; }

tmp_out=""
stage=$(mktemp -d "${TMPDIR:-/tmp}/mk-initramfs.XXXXXX")
trap 'rm -rf "$stage"; [ -z "$tmp_out" ] || rm -f "$tmp_out"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,lib,etc,root}
chmod 1777 "$stage/tmp"

# Copy the shared libraries and loader of ELF file $1 into the stage.
copy_libs() {
    local f=$1 line lib
    [ "$(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d ' \n')" = '177ELF' ] || return 0
    local deps
    deps=$(ldd "$f" 2>/dev/null) || return 0   # static or not ours: nothing to do
    while IFS= read -r line; do
        lib=""
        case "$line" in
            *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
            [[:space:]]/*) lib=${line#"${line%%[![:space:]]*}"}; lib=${lib%% (*} ;;
        esac
        if [ -z "$lib" ] || [ ! -f "$lib" ]; then continue; fi
        [ -e "$stage$lib" ] && continue
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib"
    done <<< "$deps"
}

add_one() {  # SRC:DST
    local spec=$1 src dst f
    src=${spec%%:*}
    dst=${spec#*:}
    if [ "$src" = "$spec" ] || [ -z "$dst" ]; then
        echo "mk-initramfs.sh: --add wants SRC:DST, got '$spec'" >&2
        exit 2
    fi
    [ -e "$src" ] || { echo "mk-initramfs.sh: no such file: $src" >&2; exit 1; }
    case "$dst" in /*) ;; *) dst=/$dst ;; esac
    case "$dst" in */) dst=$dst$(basename "$src") ;; esac
    mkdir -p "$stage$(dirname "$dst")"
    if [ -d "$src" ]; then
        mkdir -p "$stage$dst"
        # Symlinks are followed: a link to a host path would dangle in the guest.
        cp -RL --preserve=mode "$src/." "$stage$dst/"
        while IFS= read -r -d '' f; do copy_libs "$f"; done \
            < <(find -L "$src" -type f -perm -u+x -print0)
    else
        rm -f "$stage$dst"
        cp -L "$src" "$stage$dst"
        copy_libs "$src"
    fi
}

case "$flavour" in
    busybox)
        bb=/bin/busybox
        [ -x "$bb" ] || { echo "mk-initramfs.sh: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
        if ldd "$bb" >/dev/null 2>&1; then
            echo "mk-initramfs.sh: $bb is dynamically linked; install busybox-static" >&2
            exit 1
        fi
        cp "$bb" "$stage/bin/busybox"
        # One symlink per applet, made by one perl (Essential in Debian):
        # ~270 ln processes take seconds on a loaded machine.
        mapfile -t applets < <("$bb" --list | LC_ALL=C sort -u)
        perl -e 'chdir(shift) or die; for (@ARGV) { next if $_ eq "busybox"; symlink("busybox", $_) or die "$_: $!" }' \
            "$stage/bin" "${applets[@]}"
        ;;
    klibc)
        kd=/usr/lib/klibc/bin
        [ -d "$kd" ] || { echo "mk-initramfs.sh: $kd missing (apt-get install klibc-utils)" >&2; exit 1; }
        cp -a "$kd/." "$stage/bin/"
        # klibc programs name /lib/klibc-<hash>.so as their interpreter.
        for so in /usr/lib/klibc-*.so /lib/klibc-*.so; do
            [ -f "$so" ] && cp -L "$so" "$stage/lib/$(basename "$so")"
        done
        ls "$stage"/lib/klibc-*.so >/dev/null 2>&1 || { echo "mk-initramfs.sh: klibc .so not found" >&2; exit 1; }
        ;;
esac

if [ -n "$init" ]; then
    cp "$init" "$stage/init"
else
    cat > "$stage/init" <<'EOF'
#!/bin/sh
# bulkhead default guest init (scripts/mk-initramfs.sh); POSIX sh, busybox or klibc.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Drivers shipped as modules (the stock kernel's virtio), in dependency order.
for m in /lib/modules/bulkhead/*.ko; do
    if [ -f "$m" ]; then insmod "$m" 2>/dev/null || echo "init: cannot load $m"; fi
done
# console=hvc0 (virtio-console, a module above): the kernel opened
# /dev/console for init before the driver existed; switch to hvc0 now.
case " $(cat /proc/cmdline) " in
*" console=hvc0"*)
    n=0
    while [ ! -c /dev/hvc0 ] && [ $n -lt 20 ]; do sleep 0.1; n=$((n + 1)); done
    if [ -c /dev/hvc0 ]; then exec </dev/hvc0 >/dev/hvc0 2>&1; fi ;;
esac
echo BULKHEAD-GUEST-READY
uname -a
if command -v nproc >/dev/null 2>&1; then echo "nproc: $(nproc)"; else
    n=0
    while read -r l; do case "$l" in processor*) n=$((n + 1)) ;; esac; done < /proc/cpuinfo
    echo "nproc: $n"
fi
if command -v date >/dev/null 2>&1; then echo "date: $(date -u +%Y-%m-%d)"; fi
# The CMOS RTC as the kernel's rtc-cmos driver reads it.
if [ -r /sys/class/rtc/rtc0/date ]; then echo "rtc: $(cat /sys/class/rtc/rtc0/date)"; fi
if command -v grep >/dev/null 2>&1; then grep MemTotal /proc/meminfo; else
    while read -r l; do case "$l" in MemTotal*) echo "$l" ;; esac; done < /proc/meminfo
fi
cat /proc/cmdline
# One byte to the boot-timer port 0x440 (1088): marks "init reached".
if [ -e /dev/port ]; then dd if=/dev/zero of=/dev/port bs=1 count=1 seek=1088 2>/dev/null; fi
if [ -f /cmd ]; then sh /cmd; fi
echo BULKHEAD-GUEST-DONE
# ACPI S5 power-off; kernels without ACPI fall back to a reboot (the VMM
# treats both as a clean stop).
poweroff -f 2>/dev/null || reboot -f 2>/dev/null || reboot
EOF
fi
chmod 0755 "$stage/init"

if [ "$(id -u)" -eq 0 ]; then
    mknod -m 0600 "$stage/dev/console" c 5 1
    mknod -m 0666 "$stage/dev/null" c 1 3
fi

for a in "${adds[@]+"${adds[@]}"}"; do add_one "$a"; done

# Reproducible: fixed mtimes, sorted names, owner root, no host inode numbers.
find "$stage" -mindepth 1 -exec touch -h -d @0 {} +
out_dir=$(dirname "$out")
mkdir -p "$out_dir"
tmp_out=$(mktemp "$out_dir/.$(basename "$out").XXXXXX")
(cd "$stage" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
    | cpio -o -H newc -R 0:0 --reproducible --quiet) > "$tmp_out"
chmod 0644 "$tmp_out"
mv "$tmp_out" "$out"
tmp_out=""
