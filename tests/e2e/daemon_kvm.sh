#!/bin/sh
# daemon_kvm.sh — bulkheadd VM lifecycle over the real socket, with real VMs.
# POSIX sh + busybox: it also runs inside the nested KVM host, where the
# `bulkhead` CLI itself is the client.
#   daemon_kvm.sh BULKHEAD BULKHEADD GUEST_ELF_DIR [LINUX_KERNEL WAIT_INITRD]
# create+start, ps, logs, the daemon-made cgroup (limits; no /dev/kvm fd
# left in the VM), pause (no ticks while paused), resume, inspect,
# kill -9 of a VMM (daemon survives, records the signal), restart after exit,
# quarantine (resume refused, still inspectable), stop (graceful attempt, then
# SIGTERM), parallel starts, daemon kill -9 + restart with VMs running (same
# pids re-attached, still controllable) and a VM that died meanwhile; with a
# Linux kernel and an initramfs whose init prints BULKHEAD-WAIT-READY and
# then sleeps forever: a graceful stop through Ctrl-Alt-Del.
# Prints PASS/FAIL per test and "N passed, N failed".
BH=$1
BHD=$2
ELF=$3
LINUX=${4:-}
WAITRD=${5:-}
T=${TMPDIR:-/tmp}/daemontests.$$
mkdir -p "$T"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
export BULKHEAD_SOCKET="$T/api.sock"
DPID=

start_daemon() {
	"$BHD" --socket "$BULKHEAD_SOCKET" --state-dir "$T/state" --vmm "$BH" --stop-timeout 2 \
		--socket-mode 0666 \
		>>"$T/daemon.log" 2>&1 &
	DPID=$!
	i=0
	while [ ! -S "$BULKHEAD_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	"$BH" ps >/dev/null 2>&1 || { echo "daemon did not come up"; cat "$T/daemon.log"; }
}
field() { # field VM KEY: a value from `bulkhead inspect`
	"$BH" inspect "$1" 2>/dev/null | sed -n "s/^$2: //p" | head -n 1
}
ticks() { "$BH" logs "$1" 2>/dev/null | grep -c '^tick' ; }
wait_state() { # wait_state VM STATE [tries of 0.1 s]
	i=0
	while [ "$(field "$1" state)" != "$2" ] && [ $i -lt "${3:-100}" ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(field "$1" state)" = "$2" ]
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
if "$BH" create --config "$T/ticker.json" --name t1 --start --json >"$T/create.json" 2>"$T/err" &&
	wait_state t1 running 1; then
	ms=$(sed -n 's/.*"start_ms":\([0-9]*\).*/\1/p' "$T/create.json")
	ok "create --start: running (start -> running ${ms:-?} ms)"
	echo "LATENCY start_to_running_ms=${ms:-?}"
else
	bad "create --start" "$(cat "$T/err")"; cat "$T/daemon.log"
fi
"$BH" ps | grep -q '^[0-9a-f]\{8\}  t1 .*running' && ok "ps lists t1 running" || bad ps "$("$BH" ps 2>&1)"
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

# pause: no progress while paused; resume: progress again
if "$BH" pause t1 >/dev/null 2>"$T/err" && [ "$(field t1 state)" = paused ]; then
	a=$(ticks t1); sleep 1; b=$(ticks t1)
	[ "$a" = "$b" ] && ok "pause: no ticks while paused ($a)" || bad pause "ticks $a -> $b while paused"
else
	bad pause "$(cat "$T/err")"
fi
"$BH" pause t1 >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 409 "$T/err" && ok "pause twice: 409 ($(cat "$T/err"))" || bad "pause twice" "rc $rc"
b=$(ticks t1)
if "$BH" resume t1 >/dev/null 2>"$T/err" && wait_ticks_above t1 "$b"; then
	ok "resume: ticks again"
else
	bad resume "$(cat "$T/err")"
fi
pid=$(field t1 pid)
cpu=$(field t1 usage.cpu_seconds)
[ -n "$pid" ] && [ "$pid" -gt 0 ] && [ -n "$cpu" ] && ok "inspect: pid $pid, cpu ${cpu}s, rss $(field t1 usage.rss_bytes)" ||
	bad inspect "$("$BH" inspect t1 2>&1)"

# kill -9 of the VMM: the daemon survives and records why
kill -9 "$pid"
if wait_state t1 exited && [ "$(field t1 exit.reason)" = killed-by-signal ] &&
	[ "$(field t1 exit.signal)" = 9 ]; then
	ok "kill -9 of the VMM: exited, killed-by-signal 9"
else
	bad "kill -9" "$("$BH" inspect t1 2>&1 | grep -E 'state|exit')"
fi
"$BH" ps >/dev/null && ok "daemon still serving after a VMM died" || bad "daemon alive" "ps failed"

# start again from exited
"$BH" start t1 >/dev/null 2>"$T/err" && [ "$(field t1 state)" = running ] &&
	ok "start again after exit" || bad "restart VM" "$(cat "$T/err")"

# quarantine: paused, resume refused, still inspectable, reason recorded
if "$BH" quarantine t1 --reason "suspicious traffic" >/dev/null 2>"$T/err" &&
	[ "$(field t1 state)" = quarantined ] &&
	[ "$(field t1 quarantine_reason)" = "suspicious traffic" ]; then
	a=$(ticks t1); sleep 1; b=$(ticks t1)
	[ "$a" = "$b" ] && ok "quarantine: frozen, reason recorded" || bad quarantine "ticks $a -> $b"
else
	bad quarantine "$(cat "$T/err")"
fi
"$BH" resume t1 >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 409 "$T/err" && ok "resume of a quarantined VM: refused ($(cat "$T/err"))" ||
	bad "resume quarantined" "rc $rc $(cat "$T/err")"

# stop: a paused guest cannot take Ctrl-Alt-Del, so the VMM is terminated
if "$BH" stop t1 --json >"$T/stop.json" 2>"$T/err" && [ "$(field t1 state)" = exited ]; then
	ok "stop of a quarantined VM: $(sed -n 's/.*"result":"\([a-z]*\)".*/\1/p' "$T/stop.json"), reason $(field t1 exit.reason)"
else
	bad stop "$(cat "$T/err")"
fi
"$BH" rm t1 >/dev/null 2>"$T/err" && ok "rm" || bad rm "$(cat "$T/err")"

# graceful stop of a running guest that ignores Ctrl-Alt-Del: SIGTERM after the timeout
# (meanwhile: logs -f follows the console until the VM is gone, and a pause
# racing the stop is refused)
"$BH" create --config "$T/ticker.json" --name t2 --start >/dev/null 2>"$T/err" || bad "create t2" "$(cat "$T/err")"
timeout 60 "$BH" logs t2 -f >"$T/follow.out" 2>&1 &
fpid=$!
"$BH" stop t2 --timeout 5 --json >"$T/stop.json" 2>"$T/err" &
spid=$!
wait_state t2 stopping 50
"$BH" pause t2 >/dev/null 2>"$T/err2"; rc=$?
[ $rc = 2 ] && grep -qE "409.*(in progress|is stopping)" "$T/err2" && ok "pause while a stop is in progress: 409 ($(cat "$T/err2"))" ||
	bad "conflicting pause" "rc $rc $(cat "$T/err2")"
if wait "$spid" && grep -q '"result":"terminated"' "$T/stop.json" && [ "$(field t2 exit.reason)" = stopped ]; then
	ok "stop: Ctrl-Alt-Del ignored by the guest, then SIGTERM (exit reason stopped)"
else
	bad "stop running" "$(cat "$T/err" "$T/stop.json")"
fi
wait "$fpid"; rc=$?
[ $rc = 0 ] && grep -q '^tick' "$T/follow.out" && ok "logs -f streamed $(grep -c '^tick' "$T/follow.out") ticks and ended with the VM" ||
	bad "logs -f" "rc $rc, $(tail -n 3 "$T/follow.out")"

# several clients at once: three creates+starts in parallel
pids=
for n in p1 p2 p3; do
	"$BH" create --config "$T/idle.json" --name $n --start >"$T/$n.out" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
okp=0
for n in p1 p2 p3; do [ "$(field $n state)" = running ] && okp=$((okp + 1)); done
[ $okp = 3 ] && ok "3 parallel create+start: all running" || bad parallel "$okp of 3 running: $(cat "$T"/p?.out)"

# daemon kill -9 + restart: running VMs are re-attached (same pids), a VM that
# died meanwhile is recorded as exited
p1pid=$(field p1 pid)
p3pid=$(field p3 pid)
"$BH" pause p2 >/dev/null 2>&1
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
kill -9 "$p3pid"
sleep 0.2
start_daemon
if [ "$(field p1 state)" = running ] && [ "$(field p1 pid)" = "$p1pid" ] &&
	[ "$(field p2 state)" = paused ]; then
	ok "daemon restart: p1 re-attached (pid $p1pid), p2 still paused"
else
	bad "re-attach" "$("$BH" ps 2>&1)"
fi
[ "$(field p3 state)" = exited ] && ok "daemon restart: p3 (killed while the daemon was down) exited: $(field p3 exit.detail)" ||
	bad "lost VM" "$("$BH" inspect p3 2>&1 | grep -E 'state|exit')"
if "$BH" resume p2 >/dev/null 2>"$T/err" && "$BH" pause p1 >/dev/null 2>>"$T/err" &&
	"$BH" kill p1 >/dev/null 2>>"$T/err" && wait_state p1 exited; then
	ok "re-attached VMs are controllable (resume, pause, kill)"
else
	bad "control after restart" "$(cat "$T/err")"
fi
"$BH" kill p2 >/dev/null 2>&1
wait_state p2 exited 50
for n in t2 p1 p2 p3; do "$BH" rm $n >/dev/null 2>&1; done
[ "$("$BH" ps | wc -l)" = 1 ] && ok "all removed" || bad "cleanup" "$("$BH" ps)"

# a non-root owner: its VMM runs with its uid, so a kernel it cannot read is
# refused, and it cannot touch root's VMs
if command -v su >/dev/null 2>&1; then
	grep -q '^vmuser:' /etc/passwd 2>/dev/null || echo 'vmuser:x:1000:1000::/tmp:/bin/sh' >>/etc/passwd
	grep -q '^vmuser:' /etc/group 2>/dev/null || echo 'vmuser:x:1000:' >>/etc/group
	chmod 0666 /dev/kvm # the nested host has no kvm group (elsewhere: add users to it)
	asuser() { su -s /bin/sh vmuser -c "BULKHEAD_SOCKET=$BULKHEAD_SOCKET $BH $*"; }
	chmod 0755 "$T"
	cp "$ELF/ticker.elf" "$T/secret.elf"
	chmod 0600 "$T/secret.elf"
	sed "s|$ELF/ticker.elf|$T/secret.elf|" "$T/idle.json" >"$T/secret.json"
	chmod 0644 "$T"/*.json
	"$BH" create --config "$T/idle.json" --name rootvm >/dev/null 2>&1
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
	for n in u1 u2 rootvm; do "$BH" rm $n >/dev/null 2>&1; done
fi

# graceful stop of Linux: Ctrl-Alt-Del through the i8042, the kernel reboots
if [ -n "$LINUX" ] && [ -f "$LINUX" ] && [ -f "$WAITRD" ]; then
	cat >"$T/linux.json" <<EOF2
{ "kernel": "$LINUX", "initrd": "$WAITRD", "mem": "256M",
  "cmdline": "console=ttyS0 reboot=k panic=-1 quiet sysctl.kernel.ctrl-alt-del=1" }
EOF2
	if "$BH" create --config "$T/linux.json" --name lx --start >/dev/null 2>"$T/err"; then
		i=0
		while ! "$BH" logs lx 2>/dev/null | grep -q READY && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		"$BH" stop lx --timeout 30 --json >"$T/stop.json" 2>"$T/err"
		if grep -q '"result":"graceful"' "$T/stop.json" && [ "$(field lx exit.code)" = 0 ]; then
			ok "graceful stop of Linux via Ctrl-Alt-Del (exit 0)"
		else
			bad "graceful stop" "$(cat "$T/stop.json" "$T/err"; "$BH" logs lx | tail -n 5)"
		fi
	else
		bad "linux create" "$(cat "$T/err")"
	fi
	"$BH" rm lx >/dev/null 2>&1
fi

kill "$DPID"
wait "$DPID" 2>/dev/null
grep -q "AddressSanitizer\|runtime error" "$T/daemon.log" && bad "sanitizers" "$(grep -m3 'Sanitizer\|runtime error' "$T/daemon.log")"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
