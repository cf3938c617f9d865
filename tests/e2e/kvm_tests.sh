#!/bin/sh
# kvm_tests.sh — the tests that need a working /dev/kvm. POSIX sh + busybox
# tools only: it also runs inside the nested KVM host's initramfs.
#   kvm_tests.sh BULKHEAD GUEST_ELF_DIR CASES_FILE DEFAULT_GUEST_DIR [ONLY]
# ONLY (optional, e.g. "virtio_hostile" or "virtio_hostile,virtio_balloon"):
# run only the cases of those guests
# and the console-input tests (the ASan end-to-end stage of check.sh);
# 1. every freestanding test guest in CASES_FILE (name | args | exit code |
#    stdout substring | stderr substring | image checks), each bounded by a
#    timeout; @IMG@ / @IMG2@ in args become fresh zero-filled 8 MiB files,
#    and "IMG=md5 IMG2=md5" in the sixth field must match them afterwards
#    (a bulkhead whose `run --help` lacks --disk fails those cases);
# 2. console input, and hostile case 4: an exit-storm guest beside a
#    neighbour whose start-to-exit latency is measured against the same
#    neighbour alone (a generous bound: 10x + 3 s);
# 3. virtio-net: two VMs exchanging frames over a socketpair port (with the
#    hostile transmit cases), a tap in a network namespace made here;
# 4. a snapshot taken while virtio-blk writes are in flight, restored: no
#    acknowledged write lost or duplicated (blk_stream.elf);
# 5. real-Linux boots of the default guest (kernel + initramfs): the main
#    one checks vCPUs, memory, date, a command and ACPI power-off; two more
#    enter the same kernel by in-guest decompression and by PVH;
# Every bulkhead call runs under `timeout -k`. Prints PASS/FAIL per test,
# "SKIP what: why" per skip and "N passed, N failed, N skipped" at the end.
BH=$1
ELF=$2
CASES=$3
GUEST=$4
ONLY=${5:-}
# An ASan build: the jailed VM process cannot run LeakSanitizer (its
# stop-the-world needs ptrace, which no seccomp policy admits); every other
# check stays on, and a report on stderr fails the test (san_clean).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export ASAN_OPTIONS
T=${TMPDIR:-/tmp}/kvmtests.$$
mkdir -p "$T"
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh" # ok, bad, now_ms, wait_bounded, counters
HAS_DISK=0
timeout -k 5 30 "$BH" run --help 2>&1 | grep -q -- '--disk' && HAS_DISK=1

run_case() { # name args code out_sub err_sub image_checks
	name=$1 args=$2 want=$3 osub=$4 esub=$5 imgs=$6
	for tag in IMG IMG2; do
		case "$args" in *"@$tag@"*) ;; *) continue ;; esac
		if [ "$HAS_DISK" = 0 ]; then
			bad "guest/$name ($args)" "'bulkhead run --help' does not mention --disk"
			return
		fi
		rm -f "$T/$tag.img"
		dd if=/dev/zero of="$T/$tag.img" bs=1048576 count=8 2>/dev/null
		args=$(echo "$args" | sed "s|@$tag@|$T/$tag.img|g")
	done
	eval "set -- $args"
	start=$(now_ms)
	# 90 s: the 254-vCPU case takes ~3 s in an idle nested host, 40+ s in one
	# whose host is heavily oversubscribed.
	timeout -k 5 90 "$BH" run --kernel "$ELF/$name.elf" --test-device --console stdio --mem 64M \
		"$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	ms=$(( $(now_ms) - start ))
	if [ "$rc" != "$want" ]; then
		bad "guest/$name" "exit $rc, want $want ($ms ms)"
		sed 's/^/    out: /' "$T/out" | tail -n 15
		sed 's/^/    err: /' "$T/err" | tail -n 25
		return
	fi
	if [ -n "$osub" ] && ! grep -qF -- "$osub" "$T/out"; then
		bad "guest/$name" "stdout lacks '$osub'"
		sed 's/^/    out: /' "$T/out" | tail -n 15
		return
	fi
	if [ -n "$esub" ] && ! grep -qF -- "$esub" "$T/err"; then
		bad "guest/$name" "stderr lacks '$esub'"
		sed 's/^/    err: /' "$T/err" | tail -n 15
		return
	fi
	if ! san_clean "$T/err"; then
		bad "guest/$name" "sanitizer report: $(grep -m2 'Sanitizer\|runtime error:' "$T/err")"
		return
	fi
	for chk in $imgs; do # TAG=md5: the image's contents after the run
		tag=${chk%%=*}
		sum=$(md5sum "$T/$tag.img" 2>/dev/null | cut -d' ' -f1)
		if [ "$sum" != "${chk#*=}" ]; then
			bad "guest/$name" "$tag image md5 ${sum:-missing}, want ${chk#*=}"
			return
		fi
	done
	ok "guest/$name ($ms ms)"
}

trim() { echo "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'; }
# san_clean FILE: no sanitizer report in bulkhead's stderr
san_clean() { ! grep -q 'Sanitizer\|runtime error:' "$1"; }

echo "--- freestanding test guests"
while IFS='|' read -r name args code osub esub imgs; do
	name=$(trim "$name")
	case "$name" in '' | '#'*) continue ;; esac
	case ",$ONLY," in ",," | *",$name,"*) ;; *) continue ;; esac
	run_case "$name" "$(trim "$args")" "$(trim "$code")" "$(trim "$osub")" "$(trim "$esub")" \
		"$(trim "$imgs")"
done <"$CASES"

echo "--- console input: host stdin -> COM1"
# A short line, and one 20x longer than the UART's FIFO: every byte must
# arrive, in order (the host holds bytes back while the FIFO is full).
long=""
i=0
while [ $i -lt 9 ]; do long="${long}0123456789abcdefghijklmnopqrstuvwxyz"; i=$((i + 1)); done
for input in "hello-from-stdin|len 16 sum c1a00e80" "$long|len 324 sum 38ca1702"; do
	line=${input%%|*}
	want=${input#*|}
	printf '%s\n' "$line" | timeout -k 5 60 "$BH" run --kernel "$ELF/echo.elf" --test-device \
		--mem 64M >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q "echo: $want" "$T/out" && san_clean "$T/err"; then
		ok "console-input/${#line}-bytes"
	else
		bad "console-input/${#line}-bytes" "exit $rc, want 'echo: $want'"
		sed 's/^/    out: /' "$T/out" | tail -n 5
		sed 's/^/    err: /' "$T/err" | tail -n 5
	fi
done

if [ -n "$ONLY" ]; then
	rm -rf "$T"
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" = 0 ]
	exit
fi

echo "--- virtio-net: two VMs on one wire, a tap in a network namespace"
# Two VMs joined by a SOCK_SEQPACKET socketpair (the switch-port wire format,
# no switch; tests/e2e/netpair): the ping VM first sends four frames its
# device must drop (short, over MTU, NEEDS_CSUM not negotiated) — the echo VM
# fails on any frame but the expected ones — then 64 frames of 60..1514 bytes
# that must come back intact; each VMM's exit line must show the counts.
NETPAIR=${NETPAIR:-$ELF/../e2e/netpair}
G="$ELF/virtio_net.elf"
if [ -x "$NETPAIR" ]; then
	timeout -k 5 200 "$NETPAIR" -t 180 \
		sh -c 'exec "$0" "$@" >"'"$T"'/a.out" 2>"'"$T"'/a.err"' "$BH" run --kernel "$G" \
		--test-device --mem 64M --fd p=@FD@ --net port=p,mac=02:00:00:00:09:01 \
		--cmdline "role=ping frames=64 hostile mac=02:00:00:00:09:01" -- \
		sh -c 'exec "$0" "$@" >"'"$T"'/b.out" 2>"'"$T"'/b.err"' "$BH" run --kernel "$G" \
		--test-device --mem 64M --fd p=@FD@ --net port=p --cmdline "role=echo frames=64 mrg" \
		>"$T/np" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q "PASS virtio_net" "$T/a.out" && grep -q "PASS virtio_net" "$T/b.out" &&
		grep -q "tx 64 frames.*drops: tx_malformed=2 tx_oversize=1 tx_bad_hdr=1" "$T/a.err" &&
		grep -q "rx 64 frames.*drops: none" "$T/b.err" && san_clean "$T/a.err" && san_clean "$T/b.err"; then
		ok "virtio-net/two-vms-port (64 frames; 4 hostile frames dropped and counted)"
	else
		bad "virtio-net/two-vms-port" "netpair exit $rc"
		for f in np a.out a.err b.out b.err; do sed "s/^/    $f: /" "$T/$f" 2>/dev/null | tail -n 8; done
	fi
else
	bad "virtio-net/two-vms-port" "no $NETPAIR (build/tests/e2e/netpair)"
fi
# A name in --net that no --fd gave: a configuration error, nothing starts.
timeout -k 5 30 "$BH" run --kernel "$G" --test-device --mem 64M --net port=nope >/dev/null 2>"$T/err"
rc=$?
if [ "$rc" = 2 ] && grep -q "no descriptor named nope" "$T/err"; then
	ok "virtio-net/missing-port-fd"
else
	bad "virtio-net/missing-port-fd" "exit $rc, want 2 and 'no descriptor named nope'"
	sed 's/^/    err: /' "$T/err" | tail -n 5
fi
# tap=NAME inside a network namespace made here (never any outside address):
# the VMM creates/opens the tap before its jail, this side gives it
# 10.0.2.1; the guest must ARP and ping it, and a spoofed-MAC ARP request
# must be dropped by port security (counted as tx_spoof_mac; exactly one.
# Other drops may sit beside it: a frame sent before this side set the tap
# up is a tx_backend drop).
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
	cat >"$T/tap.sh" <<'TAPEOF'
ip link set lo up
"$1" run --kernel "$2" --test-device --mem 64M --net tap=bhtap0,mac=02:00:00:00:02:02 \
	--cmdline "role=tap mac=02:00:00:00:02:02" >"$3/tap.out" 2>"$3/tap.err" &
pid=$!
i=0
while [ $i -lt 300 ] && ! ip link show bhtap0 >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
ip addr add 10.0.2.1/24 dev bhtap0 && ip link set bhtap0 up
wait $pid
TAPEOF
	timeout -k 5 150 unshare -n sh "$T/tap.sh" "$BH" "$G" "$T"
	rc=$?
	if [ "$rc" = 0 ] && grep -q "3 ICMP echo replies" "$T/tap.out" &&
		grep -qE 'drops: (.* )?tx_spoof_mac=1( |$)' "$T/tap.err" && san_clean "$T/tap.err"; then
		ok "virtio-net/tap-netns (ARP + ICMP to the namespace's host address; spoofed MAC dropped)"
	else
		bad "virtio-net/tap-netns" "exit $rc"
		sed 's/^/    out: /' "$T/tap.out" 2>/dev/null | tail -n 8
		sed 's/^/    err: /' "$T/tap.err" 2>/dev/null | tail -n 8
	fi
	# The same with a tap descriptor opened by the caller (--fd + tapfd=).
	cat >"$T/tapfd.sh" <<'TAPEOF'
ip link set lo up
"$4" -T bhtap3 -t 120 "$1" run --kernel "$2" --test-device --mem 64M --fd t=@FD@ \
	--net tapfd=t,mac=02:00:00:00:02:02 --cmdline "role=tap mac=02:00:00:00:02:02" \
	>"$3/tap.out" 2>"$3/tap.err" &
pid=$!
i=0
while [ $i -lt 300 ] && ! ip link show bhtap3 >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
ip addr add 10.0.2.1/24 dev bhtap3 && ip link set bhtap3 up
wait $pid
TAPEOF
	timeout -k 5 150 unshare -n sh "$T/tapfd.sh" "$BH" "$G" "$T" "$NETPAIR"
	rc=$?
	if [ "$rc" = 0 ] && grep -q "3 ICMP echo replies" "$T/tap.out" &&
		grep -qE 'drops: (.* )?tx_spoof_mac=1( |$)' "$T/tap.err" && san_clean "$T/tap.err"; then
		ok "virtio-net/tapfd-netns (an inherited tap descriptor)"
	else
		bad "virtio-net/tapfd-netns" "exit $rc"
		sed 's/^/    out: /' "$T/tap.out" 2>/dev/null | tail -n 8
		sed 's/^/    err: /' "$T/tap.err" 2>/dev/null | tail -n 8
	fi
else
	skip=$((skip + 2))
	echo "SKIP virtio-net/tap-netns: no 'unshare -n' or 'ip' here"
	echo "SKIP virtio-net/tapfd-netns: no 'unshare -n' or 'ip' here"
fi
# tapfd= naming a descriptor that is not a tap: refused, exit 2.
timeout -k 5 30 "$BH" run --kernel "$G" --test-device --mem 64M --fd t=3 --net tapfd=t \
	3<"$G" >/dev/null 2>"$T/err"
rc=$?
if [ "$rc" = 2 ] && grep -q "tapfd t: not an attached tap descriptor" "$T/err"; then
	ok "virtio-net/tapfd-not-a-tap"
else
	bad "virtio-net/tapfd-not-a-tap" "exit $rc, want 2 and 'not an attached tap descriptor'"
	sed 's/^/    err: /' "$T/err" | tail -n 5
fi

echo "--- hostile case 4: an exit storm beside a neighbour"
# The neighbour: the hello guest from exec to its exit, three times alone and
# three times while a ticker in "storm" mode makes exits as fast as it can
# (unassigned PIO, unmapped MMIO). The storm VM may burn its own CPU, but the
# neighbour's worst latency must stay within 10x its worst alone, plus 3 s
# (generous: the nested host has one vCPU for both), and the storm VM's own
# log must stay bounded (rate-limited warnings).
neighbour_ms() { # prints the worst of 3 runs in ms, or "FAIL <why>"
	worst=0
	for _ in 1 2 3; do
		start=$(now_ms)
		timeout -k 5 60 "$BH" run --kernel "$ELF/hello.elf" --test-device --console stdio \
			--mem 64M --cmdline x </dev/null >"$T/nb.out" 2>"$T/nb.err"
		rc=$?
		ms=$(( $(now_ms) - start ))
		if [ "$rc" != 0 ] || ! grep -q 'hello from bulkhead' "$T/nb.out"; then
			echo "FAIL exit $rc after $ms ms: $(tail -n 2 "$T/nb.err" | tr '\n' ' ')"
			return
		fi
		[ "$ms" -gt "$worst" ] && worst=$ms
	done
	echo "$worst"
}
stormed() { # lines "storm: N exits" so far
	grep -c '^storm: [0-9]* exits' "$T/storm.out" 2>/dev/null
}
base=$(neighbour_ms)
timeout -k 5 300 "$BH" run --kernel "$ELF/ticker.elf" --test-device --console stdio --mem 64M \
	--cmdline storm </dev/null >"$T/storm.out" 2>"$T/storm.err" &
storm=$!
ts=$(now_ms)
i=0
while [ "$(stormed)" -lt 2 ] && kill -0 "$storm" 2>/dev/null && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
s0=$(stormed)
loaded=$(neighbour_ms)
s1=$(stormed)
t1=$(now_ms)
alive=0
kill -0 "$storm" 2>/dev/null && alive=1
kill -TERM "$storm" 2>/dev/null
wait_bounded "$storm" 20 "the storm VM after SIGTERM" >/dev/null
elog=$(wc -c <"$T/storm.err")
exits=$((s1 * 65536))
echo "LATENCY neighbour_worst_ms alone=$base beside_exit_storm=$loaded (storm: >= $exits exits in $((t1 - ts)) ms, its log $elog bytes)"
case "$base $loaded" in
*FAIL*) bad "hostile-4/exit-storm-neighbour" "neighbour run: alone '$base', beside the storm '$loaded'" ;;
*)
	if [ "$s0" -lt 2 ] || [ "$alive" = 0 ]; then
		bad "hostile-4/exit-storm-neighbour" "the storm VM did not storm ($s0 progress lines, alive $alive)"
		tail -n 5 "$T/storm.err" | sed 's/^/    err: /'
	elif [ "$loaded" -gt $((10 * base + 3000)) ]; then
		bad "hostile-4/exit-storm-neighbour" "neighbour $loaded ms beside the storm, $base ms alone (bound $((10 * base + 3000)) ms)"
	elif [ "$elog" -gt 65536 ]; then
		bad "hostile-4/exit-storm-neighbour" "the storm VM logged $elog bytes (not rate-limited)"
	else
		ok "hostile-4/exit-storm-neighbour (worst $loaded ms beside the storm, $base ms alone; >= $exits storm exits; its log $elog bytes)"
	fi
	;;
esac

echo "--- quiet: -q leaves stderr empty for a guest that passes"
timeout -k 5 30 "$BH" run --kernel "$ELF/hello.elf" --test-device --mem 64M -q </dev/null \
	>"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" = 0 ] && ! [ -s "$T/err" ] && grep -q 'PASS hello' "$T/out"; then
	ok "quiet/-q"
else
	bad "quiet/-q" "exit $rc, stderr: $(head -c 200 "$T/err")"
fi

echo "--- snapshot: virtio-blk writes in flight across a snapshot and restore"
# blk_stream keeps 8 sequence-numbered one-sector writes in flight over a
# 512-sector window. Once it streams, `bulkhead snapshot` pauses it through
# the control socket and writes the snapshot; that VM is killed and the
# snapshot restored on the same disk image. The restored guest notices its
# new VM generation ID, reports what it still had in flight (must be > 0:
# the snapshot caught requests mid-stream), writes half a window more, checks
# every completion names a head in flight (no duplicate acknowledgement) and
# reads the window back. Here the image is checked independently: every
# sector of the window holds exactly the newest sequence number that maps to
# it, in order, and nothing else is on the disk.
rm -f "$T/stream.img" "$T/ctl.sock"
rm -rf "$T/snapb"
dd if=/dev/zero of="$T/stream.img" bs=1048576 count=8 2>/dev/null
: >"$T/out"
timeout -k 5 120 "$BH" run --kernel "$ELF/blk_stream.elf" --test-device --console stdio \
	--mem 64M --disk "path=$T/stream.img" --control "$T/ctl.sock" --cmdline "window=512" \
	</dev/null >"$T/out" 2>"$T/err" &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q STREAMING "$T/out" && kill -0 "$pid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
why=""
if grep -q STREAMING "$T/out"; then
	sleep 1 # further into the stream: the window wraps
	start=$(now_ms)
	timeout -k 5 60 "$BH" snapshot --control "$T/ctl.sock" "$T/snapb" >"$T/snap.log" 2>&1 ||
		why="bulkhead snapshot failed: $(tail -n 2 "$T/snap.log" | tr '\n' ' ')"
	snap_ms=$(( $(now_ms) - start ))
else
	why="the guest never streamed: $(tail -n 2 "$T/out" | tr '\n' ' ')"
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid"
if [ -z "$why" ]; then
	start=$(now_ms)
	# the disk named again: a restore opens no host path the snapshot names
	timeout -k 5 120 "$BH" restore --disk "$T/stream.img" "$T/snapb" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	ms=$(( $(now_ms) - start ))
	line=$(grep 'RESTORED: ' "$T/out" | head -n 1 | tr -d '\r')
	n=$(echo "$line" | sed -n 's/.*RESTORED: \([0-9]*\) in flight.*/\1/p')
	total=$(sed -n 's/.*BLK-STREAM total=\([0-9]*\) window=512.*/\1/p' "$T/out" | head -n 1)
	[ "$rc" = 0 ] && grep -q 'PASS blk_stream' "$T/out" ||
		why="restore exit $rc: $(grep -m1 'FAIL' "$T/out")"
	[ -n "$n" ] && [ "$n" -gt 0 ] || why="$why; nothing in flight at the snapshot ('$line')"
	if [ -n "$total" ] && [ "$total" -gt 512 ]; then
		# Records in disk order (the zeros between them dropped): record k
		# must be sector k's, holding the newest seq < total that maps to k.
		img=$(tr -d '\000' <"$T/stream.img" | awk -v T="$total" -v W=512 '
			function dec(v) { sub(/^0+/, "", v); return v + 0 } # busybox: 0.. is octal
			$1 != "BHSEQ" || $3 != "SECTOR" { print "garbage at record " NR; bad = 1; exit }
			{ s = dec($2); x = dec($4); want = x + int((T - 1 - x) / W) * W }
			x != NR - 1 { print "record " NR " names sector " x; bad = 1; exit }
			s != want { print "sector " x " holds seq " s ", want " want; bad = 1; exit }
			seen[s]++ { print "seq " s " twice"; bad = 1; exit }
			END { if (!bad && NR != W) print NR " records, want " W }')
		[ -z "$img" ] || why="$why; image: $img"
	else
		why="$why; no total reported"
	fi
fi
if [ -z "$why" ]; then
	ok "snapshot/blk-writes-in-flight (${line#*RESTORED: }; $total writes, every acknowledged one on disk once, in order; snapshot $snap_ms ms, restore to the end $ms ms)"
else
	bad "snapshot/blk-writes-in-flight" "${why#; }"
	sed 's/^/    out: /' "$T/out" | tail -n 8
	sed 's/^/    err: /' "$T/err" | tail -n 8
	sed 's/^/    snap: /' "$T/snap.log" 2>/dev/null | tail -n 5
fi
rm -rf "$T/snapb" "$T/stream.img"

echo "--- stopping: every run ends within a bound, whatever its vCPUs do"
# Issue 19: with the host's cores saturated, a 4-vCPU run whose BSP resets
# while its APs were never started once did not end in 13 minutes. Saturate
# every CPU of this host (busy shell loops, killed by PID), then run that
# guest STOP_RUNS times (default 200) or for STOP_SECONDS (default 90),
# whichever ends first (at least 20 runs), each bounded; and guests whose
# vCPUs all spin with interrupts off: stopped by the guest's own reset, and
# by SIGTERM (exit 4).
STOP_RUNS=${STOP_RUNS:-200}
STOP_SECONDS=${STOP_SECONDS:-90}
STOP_BOUND_MS=30000
hogs=""
n=$(grep -c '^processor' /proc/cpuinfo)
while [ "$n" -gt 0 ]; do
	sh -c 'while :; do :; done' &
	hogs="$hogs $!"
	n=$((n - 1))
done
i=0 slow=0 failed=0 worst=0 start_all=$(now_ms)
while [ $i -lt "$STOP_RUNS" ] && { [ $i -lt 20 ] ||
	[ $(( $(now_ms) - start_all )) -lt $((STOP_SECONDS * 1000)) ]; }; do
	start=$(now_ms)
	timeout -s KILL 60 "$BH" run --kernel "$ELF/i8042_reset.elf" --mem 64M --cpus 4 -q \
		</dev/null >"$T/out" 2>"$T/err"
	rc=$?
	ms=$(( $(now_ms) - start ))
	[ "$ms" -gt "$worst" ] && worst=$ms
	[ "$ms" -gt "$STOP_BOUND_MS" ] && slow=$((slow + 1))
	if [ "$rc" != 0 ]; then
		failed=$((failed + 1))
		[ "$failed" = 1 ] && sed 's/^/    err: /' "$T/err" | tail -n 5
	fi
	i=$((i + 1))
	[ $((i % 25)) = 0 ] && echo "    stop/stress: $i runs, slowest $worst ms"
done
if [ "$slow" = 0 ] && [ "$failed" = 0 ]; then
	ok "stop/stress: $i runs of 4 vCPUs on saturated CPUs, each ended (slowest $worst ms, all $(( $(now_ms) - start_all )) ms)"
else
	bad "stop/stress" "$failed of $i runs failed, $slow took over $STOP_BOUND_MS ms (slowest $worst ms)"
fi
# Every vCPU spinning with interrupts off; the BSP resets: exit 0.
start=$(now_ms)
timeout -s KILL 60 "$BH" run --kernel "$ELF/stubborn.elf" --test-device --mem 64M --cpus 4 \
	--cmdline "cpus=4 reset=1" </dev/null >"$T/out" 2>"$T/err"
rc=$?
ms=$(( $(now_ms) - start ))
if [ "$rc" = 0 ] && [ "$ms" -le "$STOP_BOUND_MS" ] && grep -q '4 CPUs spinning' "$T/out"; then
	ok "stop/spinning-vcpus-guest-reset (exit 0 after $ms ms)"
else
	bad "stop/spinning-vcpus-guest-reset" "exit $rc after $ms ms"
	sed 's/^/    err: /' "$T/err" | tail -n 5
fi
# The same, stopped from outside: SIGTERM once all four spin. Empty the
# output first: the case above left '4 CPUs spinning' in it, and the
# background run truncates it only once it is scheduled.
: >"$T/out"
start=$(now_ms)
"$BH" run --kernel "$ELF/stubborn.elf" --test-device --mem 64M --cpus 4 --cmdline cpus=4 \
	</dev/null >"$T/out" 2>"$T/err" &
vmm=$!
w=0
while [ $w -lt 300 ] && ! grep -q 'CPUs spinning' "$T/out"; do sleep 0.1; w=$((w + 1)); done
kill -TERM "$vmm"
sent=$(now_ms)
w=0
while [ $w -lt 300 ] && kill -0 "$vmm" 2>/dev/null; do sleep 0.1; w=$((w + 1)); done
if kill -0 "$vmm" 2>/dev/null; then
	kill -KILL "$vmm"
	wait "$vmm"
	bad "stop/spinning-vcpus-SIGTERM" "still running 30 s after SIGTERM"
else
	wait "$vmm"
	rc=$?
	ms=$(( $(now_ms) - sent ))
	if [ "$rc" = 4 ] && [ "$ms" -le "$STOP_BOUND_MS" ] && grep -q '4 CPUs spinning' "$T/out"; then
		ok "stop/spinning-vcpus-SIGTERM (exit 4, $ms ms after the signal)"
	else
		bad "stop/spinning-vcpus-SIGTERM" "exit $rc, $ms ms after the signal"
		sed 's/^/    err: /' "$T/err" | tail -n 5
	fi
fi
for h in $hogs; do kill "$h"; done
for h in $hogs; do wait "$h" 2>/dev/null; done

echo "--- real Linux: default guest"
if [ -f "$GUEST/kernel" ]; then
	CPUS=2
	start=$(now_ms)
	timeout -k 5 150 "$BH" run --guest "$GUEST" --cpus $CPUS --mem 256M --console stdio \
		</dev/null >"$T/out" 2>"$T/err"
	rc=$?
	ms=$(( $(now_ms) - start ))
	echo "real-Linux boot: exit $rc after $ms ms (exec -> guest reboot)"
	grep -E 'boot-timer|kernel:' "$T/err" | sed 's/^/    /'
	why=""
	[ "$rc" = 0 ] || why="exit $rc"
	grep -q 'BULKHEAD-GUEST-READY' "$T/out" || why="$why; init never ran"
	# The serial console ends lines with \r\n: anchor the start only.
	grep -q "^nproc: $CPUS[^0-9]*$" "$T/out" || why="$why; guest did not see $CPUS CPUs"
	# 256 MiB guest: MemTotal a little below that (kernel reservations).
	mt=$(sed -n 's/^MemTotal: *\([0-9]*\) kB.*/\1/p' "$T/out" | head -n 1)
	if [ -z "$mt" ] || [ "$mt" -lt 200000 ] || [ "$mt" -gt 262144 ]; then
		why="$why; MemTotal '$mt' kB not ~256 MiB"
	fi
	grep -q '^Linux ' "$T/out" || why="$why; uname -a missing"
	grep -q 'BULKHEAD-GUEST-DONE' "$T/out" || why="$why; command did not finish"
	grep -q "date: $(date -u +%Y-%m-%d)" "$T/out" || why="$why; guest date is not today's"
	grep -q "rtc: $(date -u +%Y-%m-%d)" "$T/out" || why="$why; guest RTC (rtc0) date is not today's"
	grep -q 'guest powered off' "$T/err" || why="$why; no ACPI power-off"
	if [ -z "$why" ]; then
		ok "linux/default-guest ($ms ms, MemTotal $mt kB)"
	else
		bad "linux/default-guest" "$why"
		sed 's/^/    out: /' "$T/out" | tail -n 40
		sed 's/^/    err: /' "$T/err" | tail -n 30
	fi
else
	bad "linux/default-guest" "no prepared guest in $GUEST"
fi

# The other two ways into the same stock kernel, each to init and power-off:
# the bzImage decompressing itself in the guest, and the PVH 32-bit entry of
# the host-decompressed vmlinux.
for variant in "decompress-in-guest:--decompress guest" "pvh-entry:--boot-protocol pvh"; do
	name=${variant%%:*}
	opts=${variant#*:}
	[ -f "$GUEST/kernel" ] || { bad "linux/$name" "no prepared guest"; continue; }
	start=$(now_ms)
	# shellcheck disable=SC2086 # opts is a list of options
	timeout -k 5 150 "$BH" run --guest "$GUEST" $opts --cpus 1 --mem 256M </dev/null \
		>"$T/out" 2>"$T/err"
	rc=$?
	ms=$(( $(now_ms) - start ))
	if [ "$rc" = 0 ] && grep -q 'Linux version\|BULKHEAD-GUEST-READY' "$T/out" &&
		grep -q 'BULKHEAD-GUEST-DONE' "$T/out"; then
		ok "linux/$name ($ms ms; $(sed -n 's/.*kernel: //p' "$T/err" | head -n 1))"
	else
		bad "linux/$name" "exit $rc after $ms ms"
		sed 's/^/    out: /' "$T/out" | tail -n 20
		sed 's/^/    err: /' "$T/err" | tail -n 20
	fi
done

rm -rf "$T"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
