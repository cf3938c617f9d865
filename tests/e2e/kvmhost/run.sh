#!/usr/bin/env bash
# tests/e2e/kvmhost/run.sh [options] [--add SRC:DST]... -- SCRIPT [ARGS...]
#
# Nested KVM test host. CI and development machines here have no usable
# /dev/kvm (they are themselves guests without VMX/SVM), but QEMU's TCG can
# emulate an AMD CPU with SVM, and Debian's cloud kernel then gives a working
# /dev/kvm inside that emulated machine ("L1"). This script boots such an L1
# VM with the cloud kernel and its kvm/kvm-amd (and tun) modules (from
# scripts/guest-kernel.sh --stock), an initramfs with busybox-static and the
# files given with --add (dynamically linked programs bring their shared
# libraries and loader), runs SCRIPT inside with a timeout, relays its output
# and exits with its exit code.
#
# SCRIPT: a host file (copied into the guest and run), a path that exists in
# the guest (e.g. a --add DST), or, as a single argument, a shell snippet run
# with sh -c, e.g.  run.sh -- 'ls -la /dev/kvm; echo hi; exit 3'.
# The guest has busybox (sh, timeout, ...), /dev/kvm, a tmpfs /tmp (the
# working directory), no network. Guest tools are busybox: no bash.
#
# Options:
#   --mem MiB        L1 RAM (default 2048)
#   --cpus N         L1 vCPUs (default 1: with 2, QEMU's multi-threaded TCG
#                    froze the emulated-SVM L1 outright in 3 of 17 runs of the
#                    KVM test suite here; with 1, in none of 15)
#   --timeout SEC    wall-clock limit from QEMU's start: L1 boot (~3 s) plus
#                    the command (default 300); the guest kills the command a
#                    few seconds earlier so its output still comes back
#   --cpu MODEL      QEMU CPU model (default $KVMHOST_CPU or EPYC,+svm)
#   --add SRC:DST    put SRC at DST in the guest (repeatable)
#   --append ARGS    extra L1 kernel command line
#   --cache DIR      kernel cache (default $BULKHEAD_CACHE or <repo>/.cache)
#   --idle-timeout SEC  treat SEC seconds without any console output (the
#                    L1's init prints a heartbeat every 5 s while the command
#                    runs) as a frozen L1 and stop with 124 (default 0: off)
#   --log FILE       keep the whole serial console log in FILE
#   --verbose        relay the whole console (kernel messages too)
# Exit status: SCRIPT's status; 124 only for a proven L1 freeze (no console
# output, not even the heartbeat, for --idle-timeout seconds; the only status
# worth a retry); 123 when the command outlived --timeout while the L1 was
# alive (the guest-side watchdog fired, or the host-side deadline passed with
# the heartbeat still coming: a hang of the command, never retried); 125 if
# the VM ended without the KVMHOST-EXIT marker (crash, panic); 126 if the host
# lacks what is needed (see env.sh / scripts/deps.sh). QEMU is killed by PID.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}
die() { echo "kvmhost: $*" >&2; exit 126; }

mem=2048
cpus=1
timeout_s=300
idle_s=0
cpu=${KVMHOST_CPU:-EPYC,+svm}
cache=${BULKHEAD_CACHE:-$repo/.cache}
append=""
log_keep=""
verbose=0
adds=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --mem) mem=$2; shift ;;
        --cpus) cpus=$2; shift ;;
        --timeout) timeout_s=$2; shift ;;
        --idle-timeout) idle_s=$2; shift ;;
        --cpu) cpu=$2; shift ;;
        --add) adds+=("$2"); shift ;;
        --append) append=$2; shift ;;
        --cache) cache=$2; shift ;;
        --log) log_keep=$2; shift ;;
        --verbose) verbose=1 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        *) echo "kvmhost: unknown argument '$1' (the guest command goes after --)" >&2; usage ;;
    esac
    shift
done
[ "$#" -ge 1 ] || { echo "kvmhost: no SCRIPT given after --" >&2; usage; }
for n in "$mem" "$cpus" "$timeout_s" "$idle_s"; do
    case "$n" in ''|*[!0-9]*) echo "kvmhost: not a number: '$n'" >&2; exit 2 ;; esac
done

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (scripts/deps.sh check)"
[ -x /bin/busybox ] || die "busybox-static missing (scripts/deps.sh check)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmhost.XXXXXX")
qpid=""
relay_pid=""
# shellcheck disable=SC2317 # called from the trap
cleanup() {
    if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    if [ -n "$relay_pid" ]; then kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- L1 kernel and KVM modules ------------------------------------------------
kernel=$("$repo/scripts/guest-kernel.sh" --stock "$cache") || die "no L1 kernel (scripts/guest-kernel.sh --stock failed)"
# Same package: <dir>/boot/vmlinuz-<kver> and <dir>/lib/modules/<kver>.
kver=${kernel##*/vmlinuz-}
moddir="${kernel%/boot/vmlinuz-*}/lib/modules/$kver"
[ -d "$moddir" ] || moddir=$("$repo/scripts/guest-kernel.sh" --stock --modules "$cache") || die "no L1 modules"

find_module() {  # name -> path of its .ko (kernel names use - and _ alike)
    local alt=${1//_/-} f
    f=$(find "$moddir/kernel" \( -name "$1.ko" -o -name "$alt.ko" -o -name "${1//-/_}.ko" \) -print -quit)
    [ -n "$f" ] || die "module $1 not found under $moddir"
    echo "$f"
}
declare -A loaded=()
order=()
add_module() {  # depth-first on depends= so dependencies load first
    local name=$1 ko dep deps
    [ -n "${loaded[$name]:-}" ] && return 0
    loaded[$name]=1
    ko=$(find_module "$name")
    deps=$(strings "$ko" | sed -n 's/^depends=//p' | head -n 1)
    for dep in ${deps//,/ }; do add_module "$dep"; done
    order+=("$name:$ko")
}
add_module kvm-amd   # TCG emulates SVM, not VMX: always the AMD module
add_module tun       # /dev/net/tun: kvm_tests.sh's virtio-net tap test
add_module veth      # virtio_linux.sh net-uplink: the "outside" namespace behind a veth pair

mkdir -p "$tmp/kvmhost/modules"
: > "$tmp/kvmhost/modules.list"
for e in "${order[@]}"; do
    name=${e%%:*}
    cp "${e#*:}" "$tmp/kvmhost/modules/$name.ko"
    echo "$name" >> "$tmp/kvmhost/modules.list"
done

# --- the guest command --------------------------------------------------------
squote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
if [ -f "$1" ]; then
    # A host file: copy it in (with its libraries if it is a dynamic ELF).
    guest_prog="/kvmhost/bin/$(basename "$1")"
    adds+=("$1:$guest_prog")
    shift
    cmd=$(squote "$guest_prog")
    for a in "$@"; do cmd+=" $(squote "$a")"; done
elif [ "$#" -eq 1 ]; then
    cmd=$1          # a shell snippet or a guest path
else
    cmd=""
    for a in "$@"; do cmd+="${cmd:+ }$(squote "$a")"; done
fi
printf '%s\n' "$cmd" > "$tmp/kvmhost/cmd"
printf 'KVMHOST_TIMEOUT=%s\n' "$timeout_s" > "$tmp/kvmhost/config"

mk_args=("$tmp/initramfs.cpio" --busybox --init "$here/guest-init.sh" --add "$tmp/kvmhost:/kvmhost")
for a in "${adds[@]+"${adds[@]}"}"; do mk_args+=(--add "$a"); done
"$repo/scripts/mk-initramfs.sh" "${mk_args[@]}" || die "building the initramfs failed"

# --- boot -----------------------------------------------------------------------
log="$tmp/console.log"
: > "$log"
cmdline="console=ttyS0 quiet loglevel=1 panic=-1 mitigations=off nokaslr 8250.nr_uarts=1 \
tsc=reliable no_timer_check rcupdate.rcu_expedited=1 $append"
start=$(date +%s.%N)
qemu-system-x86_64 \
    -M q35 -accel tcg,thread=multi -cpu "$cpu" -m "$mem" -smp "$cpus" \
    -kernel "$kernel" -initrd "$tmp/initramfs.cpio" -append "$cmdline" \
    -display none -nodefaults -no-user-config -nic none -no-reboot \
    -serial "file:$log" \
    < /dev/null > "$tmp/qemu.out" 2>&1 &
qpid=$!

# Relay the guest command's output (between the markers) as it arrives.
if [ "$verbose" -eq 1 ]; then
    # sed -u, not tr: tr block-buffers into a pipe and the output would only
    # arrive when the L1 stops.
    tail -n +1 -s 0.2 -F --pid="$qpid" "$log" 2>/dev/null | sed -u 's/\r$//' &
else
    # mawk (Debian's default awk) reads its input in blocks unless told not to.
    awk_opts=()
    if awk -W version 2>&1 | grep -q mawk; then awk_opts=(-W interactive); fi
    tail -n +1 -s 0.2 -F --pid="$qpid" "$log" 2>/dev/null | awk "${awk_opts[@]}" '
                          { sub(/\r$/, "") }
        /^KVMHOST-EXIT /  { exit }
        /^KVMHOST-TIMEOUT/ { exit }
        /^KVMHOST-HEARTBEAT/ { next }
        on                { print; fflush() }
        /^KVMHOST-START/  { on = 1 }' &
fi
relay_pid=$!

timed_out=0
frozen=0
deadline=$(( $(date +%s) + timeout_s ))
last_size=-1
last_change=$(date +%s)
while kill -0 "$qpid" 2>/dev/null; do
    now=$(date +%s)
    if [ "$now" -ge "$deadline" ]; then timed_out=1; break; fi
    # The L1 (TCG emulating SVM) has been seen to freeze outright under load:
    # no console output at all for --idle-timeout seconds counts as a timeout.
    if [ "$idle_s" -gt 0 ]; then
        size=$(stat -c %s "$log" 2>/dev/null || echo 0)
        if [ "$size" != "$last_size" ]; then
            last_size=$size
            last_change=$now
        elif [ $(( now - last_change )) -ge "$idle_s" ]; then
            timed_out=1
            frozen=1
            break
        fi
    fi
    # If the marker is in, give QEMU a moment to power off, then move on.
    if grep -q '^KVMHOST-EXIT ' "$log" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
        break
    fi
    sleep 0.1
done
if kill -0 "$qpid" 2>/dev/null; then
    kill -TERM "$qpid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$qpid" 2>/dev/null || true
fi
wait "$qpid" 2>/dev/null && qrc=0 || qrc=$?
qpid=""
wait "$relay_pid" 2>/dev/null || true
relay_pid=""
end=$(date +%s.%N)
[ -z "$log_keep" ] || cp "$log" "$log_keep"

elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
marker=$(tr -d '\r' < "$log" | sed -n 's/^KVMHOST-EXIT \([0-9][0-9]*\)$/\1/p' | tail -n 1)
boot=$(tr -d '\r' < "$log" | sed -n 's/^KVMHOST-START uptime=//p' | tail -n 1)

if [ "$timed_out" -eq 1 ] && [ -z "$marker" ]; then
    if [ "$frozen" -eq 1 ]; then
        echo "kvmhost: L1-FROZEN: no console output (not even the heartbeat) for ${idle_s}s (QEMU killed); last console lines:" >&2
        tr -d '\r' < "$log" | tail -n 20 | sed 's/^/  | /' >&2
        exit 124
    fi
    echo "kvmhost: TIMEOUT: no result within ${timeout_s}s while the L1 was alive (QEMU killed); last console lines:" >&2
    tr -d '\r' < "$log" | tail -n 20 | sed 's/^/  | /' >&2
    exit 123
fi
if [ -z "$marker" ]; then
    echo "kvmhost: the L1 VM ended without a KVMHOST-EXIT marker (QEMU status $qrc, ${elapsed}s); last console lines:" >&2
    tr -d '\r' < "$log" | tail -n 30 | sed 's/^/  | /' >&2
    grep -v "TCG doesn't support requested feature" "$tmp/qemu.out" | sed 's/^/  qemu: /' >&2 || true
    exit 125
fi
if grep -q '^KVMHOST-TIMEOUT' "$log"; then
    echo "kvmhost: TIMEOUT: the guest command was killed after the ${timeout_s}s budget (the L1 was alive)" >&2
    exit 123
fi
grep -a '^KVMHOST-WARNING' "$log" | tr -d '\r' | sed 's/^/kvmhost: /' >&2 || true
echo "kvmhost: exit $marker (L1 boot ${boot:-?}s guest uptime, total ${elapsed}s, cpu $cpu)" >&2
exit "$marker"
