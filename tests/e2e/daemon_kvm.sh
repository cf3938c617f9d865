#!/bin/sh
# daemon_kvm.sh — bulkheadd VM lifecycle over the real socket, with real VMs.
# POSIX sh + busybox: it also runs inside the nested KVM host, where the
# `bulkhead` CLI itself is the client.
#   daemon_kvm.sh BULKHEAD BULKHEADD GUEST_ELF_DIR [LINUX_KERNEL WAIT_INITRD]
# create+start, ps, logs, the daemon-made cgroup (limits; no /dev/kvm fd
# left in the VM), pause (no ticks while paused), resume, inspect,
# kill -9 of a VMM (daemon survives, records the signal), restart after exit,
# snapshot --resume, a VM created from the snapshot runs on from there,
# quarantine (a forensic snapshot that restores paused; resume refused,
# still inspectable), stop (graceful attempt, then
# SIGTERM), parallel starts, daemon kill -9 + restart with VMs running (same
# pids re-attached, still controllable) and a VM that died meanwhile; with a
# Linux kernel and an initramfs whose init prints BULKHEAD-WAIT-READY and
# then sleeps forever: a graceful stop through Ctrl-Alt-Del.
# Every CLI call runs under `timeout -k`, every wait has a deadline. The
# "no progress while paused/quarantined" windows are as long as a control
# window in which the running guest ticked twice. Prints PASS/FAIL per test,
# "SKIP what: why" per skip and "N passed, N failed, N skipped".
BH=$1
BHD=$2
ELF=$3
LINUX=${4:-}
WAITRD=${5:-}
T=${TMPDIR:-/tmp}/daemontests.$$
mkdir -p "$T"
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh" # ok, bad, now_ms, wait_bounded, counters
# Every CLI call is bounded (the CLI's own HTTP timeout is 300 s).
bh() { timeout -k 5 60 "$BH" "$@"; }
export BULKHEAD_SOCKET="$T/api.sock"
# With an ASan build the daemon's environment reaches every VMM it execs: a
# jailed VM process cannot run LeakSanitizer (its stop-the-world needs
# ptrace, which no seccomp policy admits); every other check stays on.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export ASAN_OPTIONS
DPID=

start_daemon() {
	"$BHD" --socket "$BULKHEAD_SOCKET" --state-dir "$T/state" --vmm "$BH" --stop-timeout 2 \
		--socket-mode 0666 --switch-binary "$BH" \
		>>"$T/daemon.log" 2>&1 &
	DPID=$!
	i=0
	while [ ! -S "$BULKHEAD_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	bh ps >/dev/null 2>&1 || { echo "daemon did not come up"; cat "$T/daemon.log"; }
}
# keep_vmm_logs: append every VM's vmm.log (its VMM's stderr) to
# $T/vmm-all.log before an rm deletes it: the sanitizer check at the end
# reads them all (with an ASan build, a report lands there).
keep_vmm_logs() {
	for f in "$T"/state/vms/*/vmm.log; do
		[ -f "$f" ] && { echo "== $f"; cat "$f"; } >>"$T/vmm-all.log"
	done
}
field() { # field VM KEY: a value from `bulkhead inspect`
	bh inspect "$1" 2>/dev/null | sed -n "s/^$2: //p" | head -n 1
}
ticks() { bh logs "$1" 2>/dev/null | grep -c '^tick' ; }
wait_state() { # wait_state VM STATE [tries of 0.1 s]
	i=0
	while [ "$(field "$1" state)" != "$2" ] && [ $i -lt "${3:-100}" ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(field "$1" state)" = "$2" ]
}
# control_window VM: how long (ms) the running VM takes to print two more
# ticks from now (at least one tick period, at most two); empty if it does
# not within 60 s. A window that long without a tick means no progress.
control_window() {
	c0=$(ticks "$1")
	t0=$(now_ms)
	i=0
	while [ "$(ticks "$1")" -lt $((c0 + 2)) ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(ticks "$1")" -ge $((c0 + 2)) ] && echo $(($(now_ms) - t0))
}
# frozen_for VM MS: true if the VM printed no tick during MS milliseconds
frozen_for() {
	f0=$(ticks "$1")
	sleep "$(($2 / 1000 + 1))"
	f1=$(ticks "$1")
	[ "$f0" = "$f1" ]
}
wait_ticks_above() { # VM N: wait until more than N ticks were printed
	i=0
	while [ "$(ticks "$1")" -le "$2" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(ticks "$1")" -gt "$2" ]
}

cat >"$T/ticker.json" <<EOF2
{ "kernel": "$ELF/ticker.elf", "test_device": true, "mem": "64M",
  "cmdline": "spin=2000000", "console": { "mode": "none" } }
EOF2

cat >"$T/idle.json" <<EOF2
{ "kernel": "$ELF/ticker.elf", "test_device": true, "mem": "64M", "cmdline": "idle" }
EOF2

start_daemon

# create + start: the daemon reports how long start -> running took
if bh create --config "$T/ticker.json" --name t1 --start --json >"$T/create.json" 2>"$T/err" &&
	wait_state t1 running 1; then
	ms=$(sed -n 's/.*"start_ms":\([0-9]*\).*/\1/p' "$T/create.json")
	ok "create --start: running (start -> running ${ms:-?} ms)"
	echo "LATENCY start_to_running_ms=${ms:-?}"
else
	bad "create --start" "$(cat "$T/err")"; cat "$T/daemon.log"
fi
# create --start of a guest that crashes at once: reported, exit 1 (not 0)
printf '{ "kernel": "%s/triple_fault.elf", "test_device": true, "mem": "64M" }\n' "$ELF" >"$T/tf.json"
bh create --config "$T/tf.json" --name tf --start >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" = 1 ] && grep -qE 'failed at once: guest-crash \(exit code 3\)|did not start: guest-crash' "$T/err"; then
	ok "create --start of a guest that crashes at once: exit 1 ($(head -c 90 "$T/err"))"
else
	bad "create --start of a crashing guest" "exit $rc: $(cat "$T/out" "$T/err")"
fi
bh rm tf >/dev/null 2>&1
bh ps | grep -q '^[0-9a-f]\{8\}  t1 .*running' && ok "ps lists t1 running" || bad ps "$(bh ps 2>&1)"
wait_ticks_above t1 0 && ok "logs: the guest's console output arrives" || bad logs "no ticks"

# every VM in limits: the daemon made its cgroup, the VMM and the VM process
# are in it from the start; the VM process holds no /dev/kvm once it runs
t1id=$(field t1 id)
cg=$(ls -d /sys/fs/cgroup/bulkheadd-*/bulkhead-vm-"$t1id" /sys/fs/cgroup/memory/bulkheadd-*/bulkhead-vm-"$t1id" 2>/dev/null | head -n 1)
procs=$(cat "$cg/cgroup.procs" 2>/dev/null | tr '\n' ' ')
mem=$(cat "$cg/memory.max" "$cg/memory.limit_in_bytes" 2>/dev/null | head -n 1)
[ -n "$cg" ] && [ "$(echo $procs | wc -w)" -ge 2 ] && [ "$mem" = 335544320 ] &&
	ok "t1's VMM and VM process ($procs) are in the daemon's cgroup, memory limit $mem" ||
	bad "per-VM cgroup" "cg '$cg' procs '$procs' mem '$mem'"
kvmfds=0
for p in $procs; do
	n=$(ls -l "/proc/$p/fd" 2>/dev/null | grep -c ' /dev/kvm$')
	kvmfds=$((kvmfds + n))
done
vmfds=$(for p in $procs; do ls -l "/proc/$p/fd" 2>/dev/null; done | grep -c 'kvm-vm')
[ "$kvmfds" = 0 ] && [ "$vmfds" -ge 1 ] && ok "the running VM holds its VM fd but no /dev/kvm fd" ||
	bad "/dev/kvm closed" "$kvmfds /dev/kvm fds, $vmfds kvm-vm fds"

# pause: no progress while paused (for as long as the running guest took to
# tick twice just before); resume: progress again
win=$(control_window t1)
if [ -z "$win" ]; then
	bad pause "control: the running guest did not tick twice within 60 s"
elif bh pause t1 >/dev/null 2>"$T/err" && [ "$(field t1 state)" = paused ]; then
	frozen_for t1 "$win" && ok "pause: no ticks while paused (a window of ${win} ms; running, it ticked twice in that time)" ||
		bad pause "ticks while paused (window ${win} ms)"
else
	bad pause "$(cat "$T/err")"
fi
bh pause t1 >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 409 "$T/err" && ok "pause twice: 409 ($(cat "$T/err"))" || bad "pause twice" "rc $rc"
b=$(ticks t1)
if bh resume t1 >/dev/null 2>"$T/err" && wait_ticks_above t1 "$b"; then
	ok "resume: ticks again"
else
	bad resume "$(cat "$T/err")"
fi
pid=$(field t1 pid)
cpu=$(field t1 usage.cpu_seconds)
[ -n "$pid" ] && [ "$pid" -gt 0 ] && [ -n "$cpu" ] && ok "inspect: pid $pid, cpu ${cpu}s, rss $(field t1 usage.rss_bytes)" ||
	bad inspect "$(bh inspect t1 2>&1)"
# usage is the jailed VM process's (the ticker spins a vCPU), not the
# supervisor's: its CPU seconds grow and exceed the supervisor's.
sleep 3
cpu2=$(field t1 usage.cpu_seconds)
sup=$(field t1 usage.supervisor_cpu_seconds)
vmp=$(field t1 usage.vm_process_pid)
if awk -v a="$cpu" -v b="$cpu2" -v s="$sup" 'BEGIN { exit !(b - a >= 0.3 && b > s) }' &&
	[ -n "$vmp" ] && [ "$vmp" != "$pid" ] && grep -q "^PPid:[[:space:]]*$pid\$" "/proc/$vmp/status"; then
	ok "usage: the VM process $vmp (child of $pid): cpu ${cpu}s -> ${cpu2}s in 3 s; supervisor ${sup}s"
else
	bad "usage of the VM process" "cpu $cpu -> $cpu2, supervisor $sup, vm_process_pid '$vmp' (supervisor $pid)"
fi

# the balloon through the daemon: `bulkhead balloon` -> PUT /v1/vms/ID/balloon
# -> the control channel -> the device (a guest without a balloon driver:
# the target is the host's, inspect shows it); a target above the VM's memory
# is refused naming it (400: exit 2); a VM without a balloon: 409 (exit 2)
sed 's/"cmdline": "idle"/"cmdline": "idle", "balloon": { "enabled": true }/' "$T/idle.json" >"$T/balloon.json"
if bh create --config "$T/balloon.json" --name b1 --start >/dev/null 2>"$T/err" &&
	wait_state b1 running 1; then
	out=$(bh balloon b1 16M 2>&1)
	rc=$?
	tb=$(field b1 balloon.target_bytes)
	[ $rc = 0 ] && [ "$tb" = 16777216 ] && [ -n "$(field b1 balloon.held_bytes)" ] &&
		ok "balloon b1 16M: $out; inspect: balloon.target_bytes $tb" ||
		bad "balloon target" "rc $rc: $out; inspect balloon.target_bytes '$tb'"
	out=$(bh balloon b1 65M 2>&1)
	rc=$?
	[ $rc = 2 ] && echo "$out" | grep -q "above the VM's memory" &&
		[ "$(field b1 balloon.target_bytes)" = 16777216 ] &&
		ok "balloon above the VM's memory: refused, target unchanged ($out)" ||
		bad "balloon above memory" "rc $rc: $out"
	out=$(bh balloon t1 8M 2>&1)
	rc=$?
	[ $rc = 2 ] && echo "$out" | grep -q "has no balloon" && [ -z "$(field t1 balloon.target_bytes)" ] &&
		ok "balloon of a VM without one: refused ($out)" || bad "balloon without one" "rc $rc: $out"
else
	bad "create a VM with a balloon" "$(cat "$T/err")"
fi
bh kill b1 >/dev/null 2>&1
bh rm b1 >/dev/null 2>&1

# logs --lines counts lines (--tail counts bytes): two lines (a last one
# still without its newline counts), the log's latest ones (ticks go on).
# The first of the two is complete, so the whole log fetched afterwards has
# it as a line of its own (the last one may still be growing: "tick " then
# "tick 1103").
bh logs t1 --lines 2 >"$T/lines" 2>"$T/err"
n=$(awk 'END { print NR }' "$T/lines")
first=$(head -n 1 "$T/lines" | tr -d '\r')
if [ "$n" = 2 ] && [ -n "$first" ] && bh logs t1 --tail 1048576 | tr -d '\r' | grep -qxF -- "$first"; then
	ok "logs --lines 2: the log's last lines ($(tr '\n' ' ' <"$T/lines"))"
else
	bad "logs --lines" "$n lines: $(head -c 200 "$T/lines") $(cat "$T/err")"
fi

# kill -9 of the VMM: the daemon survives and records why
kill -9 "$pid"
if wait_state t1 exited && [ "$(field t1 exit.reason)" = killed-by-signal ] &&
	[ "$(field t1 exit.signal)" = 9 ]; then
	ok "kill -9 of the VMM: exited, killed-by-signal 9"
else
	bad "kill -9" "$(bh inspect t1 2>&1 | grep -E 'state|exit')"
fi
bh ps >/dev/null && ok "daemon still serving after a VMM died" || bad "daemon alive" "ps failed"

# start again from exited
bh start t1 >/dev/null 2>"$T/err" && [ "$(field t1 state)" = running ] &&
	ok "start again after exit" || bad "restart VM" "$(cat "$T/err")"

# snapshots through the daemon: a running VM snapshotted with --resume runs
# on; a VM created from the snapshot runs on from where it was (its first
# tick continues the count instead of starting at 1)
wait_ticks_above t1 3
if out=$(bh snapshot t1 --name s1 --resume 2>"$T/err") && [ "$(field t1 state)" = running ]; then
	ok "snapshot of a running VM (--resume): $out"
else
	bad "snapshot" "$(cat "$T/err")"
fi
if bh create --from-snapshot t1/s1 --name r1 --start >/dev/null 2>"$T/err" &&
	wait_state r1 running 100 && wait_ticks_above r1 1; then
	first=$(bh logs r1 | sed -n 's/^tick \([0-9]*\).*/\1/p' | head -n 1)
	[ "${first:-0}" -gt 3 ] && ok "a VM created from it runs on from the snapshot (first tick: $first)" ||
		bad "restored ticks" "first tick '$first': $(bh logs r1 | head -n 3)"
else
	bad "create --from-snapshot" "$(cat "$T/err"; bh inspect r1 2>&1 | grep -E 'state|exit')"
fi
bh kill r1 >/dev/null 2>&1
keep_vmm_logs
bh rm r1 >/dev/null 2>&1

# quarantine: paused, resume refused, still inspectable, reason recorded,
# and a forensic snapshot (that restores paused, and runs once resumed)
if bh quarantine t1 --reason "suspicious traffic" >/dev/null 2>"$T/err" &&
	[ "$(field t1 state)" = quarantined ] &&
	[ "$(field t1 quarantine_reason)" = "suspicious traffic" ]; then
	fs=$(field t1 forensic_snapshot)
	if [ -n "$fs" ] && [ -s "$fs/manifest" ] &&
		bh create --from-snapshot "t1/${fs##*/}" --paused --name q1 --start >/dev/null 2>"$T/err2" &&
		[ "$(field q1 state)" = paused ] && [ "$(ticks q1)" = 0 ]; then
		bh resume q1 >/dev/null 2>&1
		wait_ticks_above q1 0 && ok "quarantine left a forensic snapshot ($fs): it restores paused, and runs once resumed" ||
			bad "forensic restore" "no tick after resume: $(bh logs q1 | tail -n 3)"
	else
		bad "forensic snapshot" "'$fs': $(cat "$T/err2" 2>/dev/null; bh inspect t1 2>&1 | grep forensic)"
	fi
	bh kill q1 >/dev/null 2>&1
	keep_vmm_logs
	bh rm q1 >/dev/null 2>&1
	if [ -z "$win" ]; then
		bad quarantine "no control window (see pause)"
	else
		frozen_for t1 "$win" && ok "quarantine: frozen for a ${win} ms window, reason recorded" ||
			bad quarantine "ticks while quarantined (window ${win} ms)"
	fi
else
	bad quarantine "$(cat "$T/err")"
fi
bh resume t1 >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 409 "$T/err" && ok "resume of a quarantined VM: refused ($(cat "$T/err"))" ||
	bad "resume quarantined" "rc $rc $(cat "$T/err")"

# stop: a paused guest cannot take Ctrl-Alt-Del, so the VMM is terminated
if bh stop t1 --json >"$T/stop.json" 2>"$T/err" && [ "$(field t1 state)" = exited ]; then
	ok "stop of a quarantined VM: $(sed -n 's/.*"result":"\([a-z]*\)".*/\1/p' "$T/stop.json"), reason $(field t1 exit.reason)"
else
	bad stop "$(cat "$T/err")"
fi
keep_vmm_logs
bh rm t1 >/dev/null 2>"$T/err" && ok "rm" || bad rm "$(cat "$T/err")"

# graceful stop of a running guest that ignores Ctrl-Alt-Del: SIGTERM after the timeout
# (meanwhile: logs -f follows the console until the VM is gone, and a pause
# racing the stop is refused)
bh create --config "$T/ticker.json" --name t2 --start >/dev/null 2>"$T/err" || bad "create t2" "$(cat "$T/err")"
timeout -k 5 60 "$BH" logs t2 -f >"$T/follow.out" 2>&1 &
fpid=$!
# 20 s of Ctrl-Alt-Del timeout: the stopping window must outlast the polls
# below (each `inspect` in the nested host takes a good fraction of a second).
bh stop t2 --timeout 20 --json >"$T/stop.json" 2>"$T/err" &
spid=$!
wait_state t2 stopping 100
bh pause t2 >/dev/null 2>"$T/err2"; rc=$?
[ $rc = 2 ] && grep -qE "409.*(in progress|is stopping)" "$T/err2" && ok "pause while a stop is in progress: 409 ($(cat "$T/err2"))" ||
	bad "conflicting pause" "rc $rc $(cat "$T/err2")"
if wait_bounded "$spid" 60 "bulkhead stop t2" && grep -q '"result":"terminated"' "$T/stop.json" &&
	[ "$(field t2 exit.reason)" = stopped ]; then
	ok "stop: Ctrl-Alt-Del ignored by the guest, then SIGTERM (exit reason stopped)"
else
	bad "stop running" "$(cat "$T/err" "$T/stop.json")"
fi
wait_bounded "$fpid" 70 "bulkhead logs -f"; rc=$?
[ $rc = 0 ] && grep -q '^tick' "$T/follow.out" && ok "logs -f streamed $(grep -c '^tick' "$T/follow.out") ticks and ended with the VM" ||
	bad "logs -f" "rc $rc, $(tail -n 3 "$T/follow.out")"

# several clients at once: three creates+starts in parallel
pids=
for n in p1 p2 p3; do
	bh create --config "$T/idle.json" --name $n --start >"$T/$n.out" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait_bounded "$p" 70 "a parallel create+start"; done
okp=0
for n in p1 p2 p3; do [ "$(field $n state)" = running ] && okp=$((okp + 1)); done
[ $okp = 3 ] && ok "3 parallel create+start: all running" || bad parallel "$okp of 3 running: $(cat "$T"/p?.out)"

# daemon kill -9 + restart: running VMs are re-attached (same pids), a VM that
# died meanwhile is recorded as exited
p1pid=$(field p1 pid)
p3pid=$(field p3 pid)
bh pause p2 >/dev/null 2>&1
kill -9 "$DPID"
wait_bounded "$DPID" 10 "the daemon after kill -9" 2>/dev/null
kill -9 "$p3pid"
sleep 0.2
start_daemon
if [ "$(field p1 state)" = running ] && [ "$(field p1 pid)" = "$p1pid" ] &&
	[ "$(field p2 state)" = paused ]; then
	ok "daemon restart: p1 re-attached (pid $p1pid), p2 still paused"
else
	bad "re-attach" "$(bh ps 2>&1)"
fi
[ "$(field p3 state)" = exited ] && ok "daemon restart: p3 (killed while the daemon was down) exited: $(field p3 exit.detail)" ||
	bad "lost VM" "$(bh inspect p3 2>&1 | grep -E 'state|exit')"
if bh resume p2 >/dev/null 2>"$T/err" && bh pause p1 >/dev/null 2>>"$T/err" &&
	bh kill p1 >/dev/null 2>>"$T/err" && wait_state p1 exited; then
	ok "re-attached VMs are controllable (resume, pause, kill)"
else
	bad "control after restart" "$(cat "$T/err")"
fi
bh kill p2 >/dev/null 2>&1
wait_state p2 exited 50
keep_vmm_logs
for n in t2 p1 p2 p3; do bh rm $n >/dev/null 2>&1; done
[ "$(bh ps | wc -l)" = 1 ] && ok "all removed" || bad "cleanup" "$(bh ps)"

# a non-root owner: its VMM runs with its uid, so a kernel it cannot read is
# refused, and it cannot touch root's VMs
if ! command -v su >/dev/null 2>&1; then
	bad "non-root owner" "no su on this host (busybox and util-linux both have one)"
else
	grep -q '^vmuser:' /etc/passwd 2>/dev/null || echo 'vmuser:x:1000:1000::/tmp:/bin/sh' >>/etc/passwd
	grep -q '^vmuser:' /etc/group 2>/dev/null || echo 'vmuser:x:1000:' >>/etc/group
	chmod 0666 /dev/kvm # the nested host has no kvm group (elsewhere: add users to it)
	asuser() { su -s /bin/sh vmuser -c "BULKHEAD_SOCKET=$BULKHEAD_SOCKET timeout -k 5 60 $BH $*"; }
	chmod 0755 "$T"
	cp "$ELF/ticker.elf" "$T/secret.elf"
	chmod 0600 "$T/secret.elf"
	sed "s|$ELF/ticker.elf|$T/secret.elf|" "$T/idle.json" >"$T/secret.json"
	chmod 0644 "$T"/*.json
	bh create --config "$T/idle.json" --name rootvm >/dev/null 2>&1
	if asuser create --config "$T/idle.json" --name u1 --start >/dev/null 2>"$T/err"; then
		upid=$(field u1 pid)
		uid=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$upid/status")
		[ "$uid" = 1000 ] && ok "a user's VM runs as that user (VMM uid $uid)" || bad "VMM uid" "uid $uid"
	else
		bad "user create+start" "$(cat "$T/err")"
	fi
	asuser create --config "$T/secret.json" --name u2 >/dev/null 2>&1
	asuser start u2 >/dev/null 2>"$T/err"; rc=$?
	[ $rc = 2 ] && grep -q "422" "$T/err" && grep -q "Permission denied" "$T/err" &&
		ok "a user cannot boot a kernel it cannot read (422)" || bad "confused deputy" "rc $rc $(cat "$T/err")"
	asuser inspect rootvm >/dev/null 2>"$T/err"; rc=$?
	[ $rc = 2 ] && grep -q 404 "$T/err" && ok "a user inspecting root's VM: 404 (like a missing one)" || bad "404" "rc $rc $(cat "$T/err")"
	asuser kill u1 >/dev/null 2>&1
	wait_state u1 exited 50
	keep_vmm_logs
	for n in u1 u2 rootvm; do bh rm $n >/dev/null 2>&1; done
fi

# graceful stop of Linux: Ctrl-Alt-Del through the i8042, the kernel reboots
# Dedicated cores (issue 17; src/daemon/cpu_alloc.c): the allocator gives a
# dedicated VM's vCPU a core of its own, keeps every other VM's threads off it
# (one already running: narrowed; one started later: confined before exec),
# refuses the same core to a second VM naming the holder, and hands it out
# again once the holder is gone. Needs 2 CPUs (one dedicated, one shared).
# tree_cpus PID: "Name Cpus_allowed_list" of every thread of PID and its
# descendants (the jailed VM process is the supervisor's child).
tree_cpus() {
	for _t in /proc/"$1"/task/*; do
		printf '%s %s\n' "$(sed -n 's/^Name:\t//p' "$_t/status")" \
			"$(sed -n 's/^Cpus_allowed_list:\t//p' "$_t/status")"
		for _c in $(cat "$_t/children" 2>/dev/null); do tree_cpus "$_c"; done
	done
}
# uses_cpu LIST CPU: does the cpulist LIST include CPU?
uses_cpu() {
	echo "$1" | tr ',' '\n' | while IFS=- read -r _a _b; do
		[ -n "$_a" ] || continue
		[ "$2" -ge "$_a" ] && [ "$2" -le "${_b:-$_a}" ] && echo yes
	done | grep -q yes
}
NCPU=$(grep -c '^processor' /proc/cpuinfo)
if [ "$NCPU" -lt 2 ]; then
	echo "SKIP dedicated cores: this host has $NCPU CPU (one to dedicate, one to share needed)"
	skip=$((skip + 1))
else
	LAST=$((NCPU - 1))
	cat >"$T/ded.json" <<EOF2
{ "kernel": "$ELF/ticker.elf", "test_device": true, "mem": "64M", "cmdline": "idle",
  "cpu_dedicated": true }
EOF2
	cat >"$T/ded2.json" <<EOF2
{ "kernel": "$ELF/ticker.elf", "test_device": true, "mem": "64M", "cmdline": "idle",
  "cpu_dedicated": true, "cpu_affinity": "$LAST" }
EOF2
	bh create --config "$T/idle.json" --name sh1 --start >/dev/null 2>"$T/err" ||
		bad "dedicated: shared VM before" "$(cat "$T/err")"
	if bh create --config "$T/ded.json" --name ded1 --start >/dev/null 2>"$T/err"; then
		dp=$(field ded1 pid)
		sleep 0.5
		tree_cpus "$dp" >"$T/ded1.cpus"
		# exactly one thread (the vCPU) may run on the dedicated core alone
		# (and KVM's own worker for this VM, which inherits it)
		n1=$(grep -v '^kvm-' "$T/ded1.cpus" | grep -c " $LAST\$")
		others=$(grep -v '^kvm-' "$T/ded1.cpus" | grep -v " $LAST\$" | awk '{ print $2 }' | sort -u | tr '\n' ' ')
		leak=no
		for l in $others; do uses_cpu "$l" "$LAST" && leak=yes; done
		if [ "$n1" = 1 ] && [ "$leak" = no ]; then
			ok "dedicated: ded1's vCPU alone on CPU $LAST, its other threads on: $others"
		else
			bad "dedicated: ded1's threads" "$(tr '\n' ';' <"$T/ded1.cpus")"
		fi
		# sh1 (running before) was narrowed off the core
		leak=no
		tree_cpus "$(field sh1 pid)" >"$T/sh1.cpus"
		while read -r _n l; do uses_cpu "$l" "$LAST" && leak=yes; done <"$T/sh1.cpus"
		if [ "$leak" = no ] && [ -s "$T/sh1.cpus" ]; then
			ok "dedicated: a VM running before is kept off CPU $LAST"
		else
			bad "dedicated: sh1 narrowed" "$(tr '\n' ';' <"$T/sh1.cpus")"
		fi
		# a VM started after is confined from the start
		bh create --config "$T/idle.json" --name sh2 --start >/dev/null 2>"$T/err" ||
			bad "dedicated: shared VM after" "$(cat "$T/err")"
		leak=no
		tree_cpus "$(field sh2 pid)" >"$T/sh2.cpus"
		while read -r _n l; do uses_cpu "$l" "$LAST" && leak=yes; done <"$T/sh2.cpus"
		if [ "$leak" = no ] && [ -s "$T/sh2.cpus" ]; then
			ok "dedicated: a VM started later never gets CPU $LAST"
		else
			bad "dedicated: sh2 confined" "$(tr '\n' ';' <"$T/sh2.cpus")"
		fi
		# the same core to a second VM: refused, naming the holder
		bh create --config "$T/ded2.json" --name ded2 >/dev/null 2>&1
		if bh start ded2 >"$T/out" 2>&1; then
			bad "dedicated: second claim of CPU $LAST" "started: $(cat "$T/out")"
		elif grep -q "host CPU $LAST is dedicated to VM 'ded1'" "$T/out" &&
			[ "$(field ded2 state)" != running ]; then
			ok "dedicated: a second VM asking for CPU $LAST is refused: $(cat "$T/out")"
		else
			bad "dedicated: second claim message" "$(cat "$T/out")"
		fi
		# once ded1 is gone, the core is free again
		bh kill ded1 >/dev/null 2>&1
		i=0
		while [ "$(field ded1 state)" != exited ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		if bh start ded2 >"$T/out" 2>&1; then
			ok "dedicated: CPU $LAST is handed out again after its holder ended"
		else
			bad "dedicated: reuse after kill" "$(cat "$T/out")"
		fi
	else
		bad "dedicated: create --start" "$(cat "$T/err")"
	fi
	for v in ded1 ded2 sh1 sh2; do bh kill "$v" >/dev/null 2>&1; done
	sleep 0.5
	keep_vmm_logs
	for v in ded1 ded2 sh1 sh2; do bh rm "$v" >/dev/null 2>&1; done
fi

# Networks through the daemon (issue 11): two VMs on one network exchange
# frames through the daemon's switch (the freestanding virtio-net guest:
# ping sends 16 UDP frames of 60-1514 bytes, echo returns each from its own
# MAC and then holds, failing if anything else arrives); inspect shows the
# port counters; a guest that sends a frame with a spoofed source MAC on a
# VM with on_violation=quarantine is quarantined, and its neighbour never
# sees the frame.
G="$ELF/virtio_net.elf"
netcfg() { # netcfg CMDLINE [EXTRA-KEYS]
	printf '{ "kernel": "%s", "test_device": true, "mem": "64M", "cmdline": "%s",\n  "nets": [ { "switch": "kvmnet" } ]%s }\n' \
		"$G" "$1" "${2:-}"
}
netcfg "role=echo frames=16 hold" >"$T/net-echo.json"
netcfg "role=ping frames=16" >"$T/net-ping.json"
netcfg "role=ping spoof" ', "on_violation": "quarantine"' >"$T/net-spoof.json"
if bh network create kvmnet >/dev/null 2>"$T/err" &&
	bh create --config "$T/net-echo.json" --name ne --start >/dev/null 2>>"$T/err"; then
	i=0
	while ! bh logs ne 2>/dev/null | grep -q 'virtio-net mac' && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	bh create --config "$T/net-ping.json" --name np --start >/dev/null 2>"$T/err"
	wait_state np exited 600
	i=0
	while ! bh logs ne 2>/dev/null | grep -q holding && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if [ "$(field np exit.code)" = 0 ] && bh logs np | grep -q "16 frames echoed intact" &&
		bh logs ne | grep -q "echoed 16 frames"; then
		ok "network: two VMs exchange 16 frames (60-1514 bytes) through the daemon's switch"
	else
		bad "network: two VMs" "np exit $(field np exit.code): $(bh logs np | tail -n 3) / $(bh logs ne | tail -n 3) $(cat "$T/err")"
	fi
	bh inspect ne --json >"$T/ne.json" 2>&1
	rx=$(sed -n 's/.*"rx_frames":\([0-9]*\).*/\1/p' "$T/ne.json")
	tx=$(sed -n 's/.*"tx_frames":\([0-9]*\).*/\1/p' "$T/ne.json")
	[ "${rx:-0}" -ge 16 ] && [ "${tx:-0}" -ge 16 ] && grep -q '"spoof_mac":0' "$T/ne.json" &&
		ok "network: inspect shows the echo's port counters (rx $rx, tx $tx, no drops)" ||
		bad "network: counters" "$(head -c 600 "$T/ne.json")"
	bh create --config "$T/net-spoof.json" --name ns --start >/dev/null 2>"$T/err"
	# (its console may end mid-line: quarantine cuts console output too)
	if wait_state ns quarantined 150 && field ns quarantine_reason | grep -q spoof_mac; then
		ok "network: a guest spoofing its MAC (on_violation quarantine) is quarantined: $(field ns quarantine_reason)"
	else
		bad "network: spoofer" "state $(field ns state): $(bh logs ns | tail -n 2) $(cat "$T/err")"
	fi
	sleep 1
	[ "$(field ne state)" = running ] && ! bh logs ne | grep -q "unexpected" &&
		ok "network: the neighbour never received the spoofed frame" ||
		bad "network: neighbour" "$(field ne state): $(bh logs ne | tail -n 2)"
	bh network rm kvmnet >/dev/null 2>"$T/err"; rc=$?
	[ $rc = 2 ] && grep -q "409.*in use" "$T/err" && ok "network: rm while VMs use it: 409" ||
		bad "network: rm in use" "rc $rc $(cat "$T/err")"
	for v in ne np ns; do bh kill "$v" >/dev/null 2>&1; done
	for v in ne np ns; do wait_state "$v" exited 50; done
	keep_vmm_logs
	for v in ne np ns; do bh rm "$v" >/dev/null 2>&1; done
	bh network rm kvmnet >/dev/null 2>"$T/err" && ok "network: removed once its VMs are gone" ||
		bad "network: rm" "$(cat "$T/err")"
else
	bad "network: create" "$(cat "$T/err")"
fi

if [ -z "$LINUX" ]; then
	echo "SKIP graceful stop of Linux: no LINUX_KERNEL/WAIT_INITRD arguments"
	skip=$((skip + 1))
elif ! [ -f "$LINUX" ] || ! [ -f "$WAITRD" ]; then
	bad "graceful stop of Linux" "kernel '$LINUX' or initramfs '$WAITRD' missing"
else
	cat >"$T/linux.json" <<EOF2
{ "kernel": "$LINUX", "initrd": "$WAITRD", "mem": "256M",
  "cmdline": "console=ttyS0 reboot=k panic=-1 quiet sysctl.kernel.ctrl-alt-del=1" }
EOF2
	if bh create --config "$T/linux.json" --name lx --start >/dev/null 2>"$T/err"; then
		i=0
		while ! bh logs lx 2>/dev/null | grep -q READY && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		bh stop lx --timeout 30 --json >"$T/stop.json" 2>"$T/err"
		if grep -q '"result":"graceful"' "$T/stop.json" && [ "$(field lx exit.code)" = 0 ]; then
			ok "graceful stop of Linux via Ctrl-Alt-Del (exit 0)"
		else
			bad "graceful stop" "$(cat "$T/stop.json" "$T/err"; bh logs lx | tail -n 5)"
		fi
	else
		bad "linux create" "$(cat "$T/err")"
	fi
	keep_vmm_logs
	bh rm lx >/dev/null 2>&1
fi

kill "$DPID"
wait_bounded "$DPID" 30 "the daemon after SIGTERM"
# Sanitizer reports from the daemon and every VMM it ran (meaningful with
# the ASan build, which check.sh runs this suite with too).
keep_vmm_logs
san=no
grep -q __asan_init "$BHD" 2>/dev/null && san=yes
n=$(grep -c '^== ' "$T/vmm-all.log" 2>/dev/null)
if grep -q "Sanitizer\|runtime error" "$T/daemon.log" "$T/vmm-all.log" 2>/dev/null; then
	bad "sanitizers" "$(grep -h -m3 'Sanitizer\|runtime error' "$T/daemon.log" "$T/vmm-all.log")"
else
	ok "no sanitizer report in the daemon's log and ${n:-0} VMM logs (ASan build: $san)"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
