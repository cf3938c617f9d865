#!/usr/bin/env bash
# bench/run.sh [--smoke] BUILD CACHE
#
# bulkhead vs QEMU benchmarks (bench/README.md says what each one measures).
# Builds the bench programs (a Meson project of their own, in BUILD/bench),
# then runs the driver, bhbench, group by group where each group runs
# faithfully on this kind of host (tests/e2e/kvmhost/env.sh, suite_mode
# bench-<group>; BULKHEAD_HOST_KIND=hardware|pvm|none forces a kind):
#   native  directly on this machine (hardware KVM: every group; PVM-backed
#           /dev/kvm: startup, footprint, density, churn);
#   nested  inside the nested KVM test host (tests/e2e/kvmhost/run.sh): one L1
#           boot, those groups interleaved inside it, results relayed back
#           (no /dev/kvm: every group; PVM: exit cost and block I/O, whose
#           guests do port I/O from ring 3, and the stock-kernel boot).
# One table per place the groups ran, each headed by where that was.
# Writes the markdown table to bench/results/latest.md (and echoes it), the
# whole log to bench/results/latest.log, and, when gnuplot is installed,
# PNG charts bench/results/<group>.png.
#   --smoke   every benchmark program once with tiny counts (no Linux boot),
#             prints "N passed, N failed"; exit 0 only if nothing failed.
#             About a minute (each place the groups run: natively, nested).
# BHBENCH_ARGS in the environment adds driver options (bhbench.c's header),
# e.g. BHBENCH_ARGS="--only churn --reps 1" while working on one benchmark.
# BENCH_EXEC_RUNS (default 30): runs per row of the exec group (cold exec,
# exec from the snapshot, a warm VM's command); lower for quick trials.
# The exec group is left out of --smoke unless BHBENCH_ARGS names it.
# BENCH_IDLE_TIMEOUT (default 120): in nested mode, this many seconds without
# any console output count as a frozen L1 (the driver prints a heartbeat
# every 30 s). The driver prints each group's rows as the group finishes, so
# if the run dies (frozen L1, budget, crash) the table is rebuilt from the
# groups that completed and the lost ones are named, with the reason.
# Needs: BUILD/bulkhead and BUILD/tests/guest/hello.elf (ninja -C BUILD),
# qemu-system-x86_64 for the QEMU columns (scripts/deps.sh bench), and for
# the Linux boot the stock-kernel guest (made here with
# scripts/prepare-guest.sh --stock CACHE if missing).
set -euo pipefail

smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
[ "$#" -eq 2 ] || { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=$(cd "$1" && pwd)
mkdir -p "$2"
cache=$(cd "$2" && pwd)
results=$here/results
mkdir -p "$results"
start_s=$(date +%s)

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$build/bulkhead" ] || die "$build/bulkhead missing (make build)"
hello=$build/tests/guest/hello.elf
[ -f "$hello" ] || die "$hello missing (make build)"

# --- the bench programs -------------------------------------------------------
bb=$build/bench
if [ ! -f "$bb/build.ninja" ]; then
    meson setup "$bb" "$here" >"$results/meson-setup.log" 2>&1 \
        || { cat "$results/meson-setup.log" >&2; die "meson setup of bench/ failed"; }
fi
ninja -C "$bb" >"$results/ninja.log" 2>&1 || { cat "$results/ninja.log" >&2; die "building bench/ failed"; }

# shellcheck source=../tests/e2e/kvmhost/env.sh
. "$repo/tests/e2e/kvmhost/env.sh"
kind=$(host_kind) || die "BULKHEAD_HOST_KIND: see tests/e2e/kvmhost/env.sh"
echo "bench: host kind $kind${BULKHEAD_HOST_KIND:+ (forced by BULKHEAD_HOST_KIND)}" >&2
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || echo "bench: qemu-system-x86_64 not installed (scripts/deps.sh bench): bulkhead columns only" >&2

# --- the real-Linux guest ----------------------------------------------------------
# QEMU boots the same kernel through its PVH entry, which needs the ELF
# vmlinux: extract it from the bzImage (LZ4 payload located by the header's
# payload_offset/payload_length; the last 4 bytes are the kernel build's
# size trailer, not LZ4). bulkhead decompresses the bzImage itself.
guest=""
vmlinux=""
extract_vmlinux() {  # bzImage out
    local k=$1 out=$2 setup_sects poff plen magic
    magic=$(od -An -tx1 -j0 -N4 "$k" | tr -d ' \n')
    if [ "$magic" = "7f454c46" ]; then cp "$k" "$out"; return 0; fi
    setup_sects=$(od -An -tu1 -j$((0x1f1)) -N1 "$k" | tr -d ' ')
    [ "$setup_sects" -ne 0 ] || setup_sects=4
    poff=$(od -An -tu4 -j$((0x248)) -N4 "$k" | tr -d ' ')
    plen=$(od -An -tu4 -j$((0x24c)) -N4 "$k" | tr -d ' ')
    magic=$(od -An -tx1 -j$(((setup_sects + 1) * 512 + poff)) -N4 "$k" | tr -d ' \n')
    [ "$magic" = "02214c18" ] || return 1  # only LZ4 (Debian's choice) is handled
    command -v lz4 >/dev/null || return 1
    dd if="$k" iflag=skip_bytes,count_bytes skip=$(((setup_sects + 1) * 512 + poff)) count=$((plen - 4)) \
        status=none | lz4 -dcq >"$out.tmp" && mv "$out.tmp" "$out"
}
if [ "$smoke" -eq 0 ]; then
    # The stock kernel on every host kind (a PVM host boots it nested).
    if [ ! -f "$cache/guests/stock/initrd" ]; then
        "$repo/scripts/prepare-guest.sh" --stock "$cache" >/dev/null 2>&1 \
            || echo "bench: no stock-kernel guest (prepare-guest.sh --stock failed): Linux boot skipped" >&2
    fi
    if [ -f "$cache/guests/stock/initrd" ]; then
        guest=$cache/guests/stock
        kernel=$(readlink -f "$guest/kernel")
        vmlinux=$bb/vmlinux
        if [ ! -s "$vmlinux" ] || [ "$kernel" -nt "$vmlinux" ]; then
            extract_vmlinux "$kernel" "$vmlinux" || {
                echo "bench: cannot extract an ELF vmlinux from $kernel: QEMU's Linux boot skipped" >&2
                vmlinux=""
            }
        fi
    fi
fi

# The balloon group's initrd: the guest's, plus /cmd (fill 192 MiB of tmpfs,
# free it, say so, idle) and the stock kernel's virtio_balloon module (loaded
# after the guest's own modules; a second copy fails harmlessly).
balloon_initrd=""
if [ -n "$guest" ] && command -v cpio >/dev/null; then
    bt=$bb/balloon-initrd.d
    rm -rf "$bt"
    mkdir -p "$bt/lib/modules/bulkhead"
    cat >"$bt/cmd" <<'EOF'
mkdir -p /mnt
mount -t tmpfs -o size=256m tmpfs /mnt
dd if=/dev/zero of=/mnt/fill bs=1M count=192 2>/dev/null
rm /mnt/fill
echo BALLOON-FREED
sleep 100000
EOF
    moddir=$("$repo/scripts/guest-kernel.sh" --stock --modules "$cache" 2>/dev/null || true)
    if [ -f "$moddir/kernel/drivers/virtio/virtio_balloon.ko" ]; then
        cp "$moddir/kernel/drivers/virtio/virtio_balloon.ko" "$bt/lib/modules/bulkhead/99-virtio_balloon.ko"
    fi
    (cd "$bt" && find . | cpio -o -H newc 2>/dev/null) >"$bb/balloon.cpio" &&
        cat "$guest/initrd" "$bb/balloon.cpio" >"$bb/balloon-initrd" &&
        balloon_initrd=$bb/balloon-initrd
fi

# --- run ------------------------------------------------------------------------
if [ "$smoke" -eq 1 ]; then
    counts=(--smoke)
else
    counts=(--reps 7 --linux-reps 3 --churn 6)
fi
# Extra driver options for debugging, e.g. BHBENCH_ARGS="--only churn --reps 1".
# An --only there narrows the groups; the rest goes to the driver as is.
# shellcheck disable=SC2206 # split on purpose
extra=(${BHBENCH_ARGS:-})
only=""
rest=()
for ((i = 0; i < ${#extra[@]}; i++)); do
    if [ "${extra[$i]}" = --only ] && [ $((i + 1)) -lt ${#extra[@]} ]; then
        only=${extra[$((i + 1))]//,/ }
        i=$((i + 1))
    else
        rest+=("${extra[$i]}")
    fi
done
counts+=(${rest[@]+"${rest[@]}"})
log=$results/latest.log
[ "$smoke" -eq 1 ] && log=$results/smoke.log
: >"$log"

# Each group runs where it runs faithfully on this kind of host (env.sh
# suite_mode bench-<group>): e.g. on a PVM-backed /dev/kvm startup, footprint,
# density and churn natively, the exit-cost and block groups (ring-3 port
# I/O) and the stock-kernel boot in the nested KVM host.
native_groups=""
nested_groups=""
skipped=""
# exec boots Linux guests (~20-60 s each nested) dozens of times: not in the
# smoke run unless asked for with --only.
all_groups="startup footprint exits linux blk density place balloon snapshot net exec churn"
[ "$smoke" -eq 1 ] && all_groups=${all_groups/ exec/}
for g in ${only:-$all_groups}; do
    m=$(suite_mode "bench-$g")
    echo "bench: $g: $m" | tee -a "$log"
    case "$m" in
    native:*) native_groups="$native_groups,$g" ;;
    nested:*) nested_groups="$nested_groups,$g" ;;
    *) skipped="$skipped $g (${m#skip: })" ;;
    esac
done
native_groups=${native_groups#,}
nested_groups=${nested_groups#,}
rc=0

# The exec group's guest (the exec guest on the stock kernel, as the exec
# suite boots it) and root filesystem: the busybox one plus the group's
# vsock peer as /bin/bh-vsock-echo. Made only when the group runs.
exec_guest=""
exec_rootfs=""
case ",$native_groups,$nested_groups," in
*,exec,*)
    if exec_guest=$("$repo/scripts/prepare-exec.sh" "$build" "$cache" --stock-guest 2>"$results/exec-guest.log" | tail -n 1) &&
        [ -f "$exec_guest/initrd" ] &&
        "$repo/scripts/mk-exec-rootfs-busybox.sh" "$bb/exec-rootfs.erofs" "$bb/vsock_echo:/bin/bh-vsock-echo" \
            >>"$results/exec-guest.log" 2>&1; then
        exec_rootfs=$bb/exec-rootfs.erofs
    else
        echo "bench: cannot prepare the exec guest or its root filesystem (see $results/exec-guest.log): exec group skipped" >&2
        exec_guest=""
    fi
    ;;
esac
# exec runs (rows 1-3 of the exec group; bench/README.md), default 30.
exec_runs=${BENCH_EXEC_RUNS:-30}
case "$exec_runs" in
'' | *[!0-9]* | 0) die "BENCH_EXEC_RUNS='$exec_runs': expected a count of runs (1-1000)" ;;
esac

# The time budget of one driver run: 1500 s, plus for the exec group 80 s
# per run (a cold and a snapshot exec of up to ~40 s each nested) and 300 s
# for its warm VM and vsock transfers.
budget_for() { # GROUPS
    local b=1500
    case ",$1," in *,exec,*) b=$((b + 80 * exec_runs + 300)) ;; esac
    echo "$b"
}

run_native() { # GROUPS LOG
    local label tmp r
    label="native /dev/kvm on $(hostname), $kind host"
    [ "$kind" = pvm ] && label="$label (PVM-backed KVM: ring 0 and exits emulated, see environment.md)"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/bhbench.XXXXXX")
    local args=(--bulkhead "$build/bulkhead" --guest-elf "$bb/bench_guest.elf" --hello "$hello"
          --kvm-min "$bb/kvm_min" --blk-guest "$bb/blk_guest.elf" --blk-host "$bb/blk_host"
          --net-guest "$bb/net_guest.elf" --net-check "$bb/net_check" --tmp "$tmp" --exits 20000 --label "$label" --only "$1" "${counts[@]}")
    [ -n "$qemu" ] && args+=(--qemu "$qemu")
    [ -n "$guest" ] && args+=(--linux "$guest")
    [ -n "$vmlinux" ] && args+=(--qemu-kernel "$vmlinux")
    [ -n "$balloon_initrd" ] && args+=(--balloon-initrd "$balloon_initrd")
    [ -n "$exec_rootfs" ] && args+=(--exec-guest "$exec_guest" --exec-rootfs "$exec_rootfs" --exec-runs "$exec_runs")
    set +e
    timeout -k 5 "$(budget_for "$1")" "$bb/bhbench" "${args[@]}" 2>&1 | tee "$2"
    r=${PIPESTATUS[0]}
    set -e
    rm -rf "$tmp"
    return "$r"
}

run_nested() { # GROUPS LOG
    local label="nested TCG-emulated KVM on this machine (L1: QEMU TCG, emulated AMD SVM, kvm-amd)" r
    local adds=(--add "$bb/bhbench:/bench/bhbench" --add "$bb/kvm_min:/bench/kvm_min"
          --add "$bb/bench_guest.elf:/bench/bench_guest.elf" --add "$hello:/bench/hello.elf"
          --add "$build/bulkhead:/bench/bulkhead"
          --add "$bb/blk_guest.elf:/bench/blk_guest.elf" --add "$bb/blk_host:/bench/blk_host"
          --add "$bb/net_guest.elf:/bench/net_guest.elf" --add "$bb/net_check:/bench/net_check")
    local cmd="/bench/bhbench --bulkhead /bench/bulkhead --guest-elf /bench/bench_guest.elf --hello /bench/hello.elf"
    cmd="$cmd --kvm-min /bench/kvm_min --blk-guest /bench/blk_guest.elf --blk-host /bench/blk_host"
    cmd="$cmd --net-guest /bench/net_guest.elf --net-check /bench/net_check"
    cmd="$cmd --tmp /tmp --exits 4000 --only $1 ${counts[*]}"
    if [ -n "$qemu" ]; then
        # QEMU finds its firmware as <exe>/../share/qemu: keep the same layout.
        local bios qshare f src
        bios=$(readlink -f "$(dirname "$qemu")/../share/qemu/bios-microvm.bin")
        [ -f "$bios" ] || die "QEMU's bios-microvm.bin not found"
        adds+=(--add "$qemu:/usr/bin/qemu-system-x86_64" --add "$bios:/usr/share/qemu/bios-microvm.bin")
        # The blk group's QEMU runs a PC (microvm has no PCI): SeaBIOS, its
        # PVH boot option ROM, and the ROMs a PC loads under KVM.
        qshare=$(dirname "$bios")
        for f in seabios/bios-256k.bin qemu/pvh.bin qemu/linuxboot_dma.bin qemu/kvmvapic.bin; do
            src=$(readlink -f "$qshare/../$f" 2>/dev/null || true)
            [ -f "$src" ] && adds+=(--add "$src:/usr/share/$f")
        done
        cmd="$cmd --qemu /usr/bin/qemu-system-x86_64"
    fi
    if [ -n "$guest" ]; then
        adds+=(--add "$guest/kernel:/bench/linux/kernel" --add "$guest/initrd:/bench/linux/initrd"
               --add "$guest/cmdline:/bench/linux/cmdline")
        cmd="$cmd --linux /bench/linux"
        if [ -n "$balloon_initrd" ]; then
            adds+=(--add "$balloon_initrd:/bench/linux/balloon-initrd")
            cmd="$cmd --balloon-initrd /bench/linux/balloon-initrd"
        fi
        if [ -n "$vmlinux" ]; then
            adds+=(--add "$vmlinux:/bench/vmlinux")
            cmd="$cmd --qemu-kernel /bench/vmlinux"
        fi
    fi
    if [ -n "$exec_rootfs" ]; then
        adds+=(--add "$exec_guest:/bench/exec-guest" --add "$exec_rootfs:/bench/exec-rootfs.erofs")
        cmd="$cmd --exec-guest /bench/exec-guest --exec-rootfs /bench/exec-rootfs.erofs --exec-runs $exec_runs"
    fi
    local budget idle=(--idle-timeout "${BENCH_IDLE_TIMEOUT:-120}")
    budget=$(budget_for "$1")
    # Smoke: the L1 boot took up to 17 s on this 2-core machine under load.
    [ "$smoke" -eq 1 ] && { budget=90; idle=(); }
    set +e
    # One L1 vCPU: with 2, QEMU's multi-threaded TCG froze the emulated-SVM L1
    # outright in some runs (README.md); BENCH_L1_CPUS=2 for parallel churn.
    # 6 GiB: the density group keeps 100 VMs (100 QEMUs) up at once.
    "$repo/tests/e2e/kvmhost/run.sh" --timeout "$budget" "${idle[@]+"${idle[@]}"}" \
        --cpus "${BENCH_L1_CPUS:-1}" --mem 6144 \
        --cache "$cache" "${adds[@]}" -- "$cmd --label '$label'" 2>&1 | tee "$2"
    r=${PIPESTATUS[0]}
    set -e
    return "$r"
}

parts=()
if [ -n "$native_groups" ]; then
    set +e; run_native "$native_groups" "$log.native"; r=$?; set -e
    [ "$r" -eq 0 ] || rc=$r
    parts+=("$log.native:$r")
fi
if [ -n "$nested_groups" ]; then
    set +e; run_nested "$nested_groups" "$log.nested"; r=$?; set -e
    [ "$r" -eq 0 ] || rc=$r
    parts+=("$log.nested:$r")
fi
[ -n "$native_groups$nested_groups" ] ||
    die "no benchmark group can run here:$skipped; scripts/deps.sh check installs the nested host's needs"
for p in "${parts[@]}"; do cat "${p%:*}" >>"$log"; done
elapsed=$(($(date +%s) - start_s))

if [ "$smoke" -eq 1 ]; then
    sp=0
    sf=0
    for p in "${parts[@]}"; do
        line=$(tr -d '\r' <"${p%:*}" | sed -n 's/^BHBENCH-SMOKE: //p' | tail -n 1)
        if [ -z "$line" ]; then
            echo "bench: the driver did not finish (${p##*.}, status ${p##*:}; see $log)" >&2
            sf=$((sf + 1))
            continue
        fi
        sp=$((sp + ${line%% passed*}))
        line=${line#*passed, }
        sf=$((sf + ${line%% failed*}))
    done
    echo "$sp passed, $sf failed (bench smoke, ${elapsed}s${skipped:+; skipped:$skipped})"
    [ "$rc" -eq 0 ] && [ "$sf" -eq 0 ]
    exit
fi

# --- results ----------------------------------------------------------------------
clean_log() { tr -d '\r' <"$log"; }
# part_table LOG RC: the markdown table of one run (native or nested).
part_table() {
    local plog=$1 prc=$2 plan done_groups started why lost last g
    pclean() { tr -d '\r' <"$plog"; }
    pclean | sed -n '/^BHBENCH-TABLE-BEGIN$/,/^BHBENCH-TABLE-END$/p' | sed '1d;$d' >"$results/part.md.tmp"
    if [ -s "$results/part.md.tmp" ]; then
        cat "$results/part.md.tmp"
        rm -f "$results/part.md.tmp"
        return 0
    fi
    rm -f "$results/part.md.tmp"
    # The driver never got to its table: rebuild it from the groups that
    # finished (BHBENCH-ROW lines) and say which were lost, and why.
    plan=$(pclean | sed -n 's/^BHBENCH-PLAN //p' | head -n 1)
    done_groups=$(pclean | sed -n 's/^BHBENCH-GROUP-DONE //p' | tr '\n' ' ')
    started=$(pclean | sed -n 's/^BHBENCH-GROUP-START //p' | tail -n 1)
    case " $done_groups " in *" $started "*) started="" ;; esac
    if grep -q 'kvmhost: L1-FROZEN' "$plog"; then
        why="the nested L1 VM froze (no console output for ${BENCH_IDLE_TIMEOUT:-120} s; QEMU killed)"
    elif grep -q 'kvmhost: TIMEOUT' "$plog" || [ "$prc" -eq 123 ]; then
        why="the time budget ran out (status 123)"
    elif [ "$prc" -eq 125 ]; then
        why="the L1 VM ended without an exit marker (crash or panic; status 125)"
    else
        why="the driver stopped with status $prc"
    fi
    lost=""
    for g in $plan; do
        case " $done_groups " in *" $g "*) ;; *) lost="$lost $g" ;; esac
    done
    last=$(pclean | grep -E '^#' | tail -n 1 || true)
    if [ -z "$plan" ]; then
        echo "**No results from $(basename "$plog")**: the driver did not start (status $prc)."
        return 0
    fi
    pclean | sed -n 's/^BHBENCH-HEADER\t//p' | head -n 1
    echo
    echo '| benchmark | unit | bulkhead | QEMU microvm | bulkhead/QEMU | notes |'
    echo '|---|---|---|---|---|---|'
    pclean | sed -n 's/^BHBENCH-ROW\t//p'
    echo
    echo "**Incomplete run**: groups lost:${lost:- none}${started:+ (was running: $started)}; cause: $why. Last driver output: \`${last:-none}\`."
    echo "bench: incomplete run ($(basename "$plog")): lost${lost:- nothing}; $why" >&2
}
label="host kind $kind"
{
    for p in "${parts[@]}"; do
        part_table "${p%:*}" "${p##*:}"
        echo
    done
    [ -z "$skipped" ] || { echo "Skipped:$skipped."; echo; }
    echo "Groups and where they ran (tests/e2e/kvmhost/env.sh, host kind $kind):"
    clean_log | sed -n 's/^bench: \([a-z]*\): /- \1: /p'
    echo
    echo "Total \`make bench\` wall time: ${elapsed} s ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'))."
} >"$results/latest.md"

# One data file per group, one PNG per group (bars = medians, whiskers = min/max).
groups=$(clean_log | awk -F'\t' '$1 == "BHBENCH-DATA" { print $2 }' | sort -u)
for g in $groups; do
    clean_log | awk -F'\t' -v g="$g" 'BEGIN { OFS = "\t" }
        $1 == "BHBENCH-DATA" && $2 == g { print $3, $4, $5, $6, $7, $8, $9 }' >"$results/$g.dat"
done
if [ -z "$groups" ]; then
    pngs="no PNG charts: no group finished"
elif command -v gnuplot >/dev/null; then
    for g in $groups; do
        gnuplot -e "datafile='$results/$g.dat'; outfile='$results/$g.png'; chart_title='$g — $label'" \
            "$here/plot.gp" 2>>"$results/gnuplot.log" || echo "bench: gnuplot failed for $g (see $results/gnuplot.log)" >&2
    done
    pngs="PNG charts: $(cd "$results" && for g in $groups; do if [ -f "$g.png" ]; then printf '%s.png ' "$g"; fi; done)"
else
    pngs="no PNG charts: gnuplot missing (scripts/deps.sh bench installs gnuplot-nox)"
fi

echo
echo "=== bench/results/latest.md ==="
cat "$results/latest.md"
echo "$pngs (in $results)"
exit "$rc"
