#!/bin/sh
# sandbox_tests.sh — proof that the VM process's jail holds (docs/security.md).
# POSIX sh + busybox tools: also runs inside the nested KVM host.
#   sandbox_tests.sh SB_PROBE [BULKHEAD GUEST_ELF_DIR]
# 1. per thread kind (main, vcpu, event): sb_probe, jailed by the real sandbox
#    code with the very same filters as the VMM, attempts each forbidden
#    operation and must die by SIGSYS; the allowed baseline must succeed;
# 2. the same operations with every layer EXCEPT seccomp: each must still
#    fail (EPERM/EACCES/ENOENT/EROFS/ESRCH...): the layers are redundant;
# 3. a held jailed process, inspected from outside: distinct unprivileged
#    uids for two concurrent jails, no capabilities (incl. bounding/ambient),
#    no_new_privs, seccomp on, own namespaces, only stdio fds, rlimits, its
#    cgroup with limits — and the cgroup gone once it ends;
# 4. with BULKHEAD and /dev/kvm: a real VM's process has the same properties
#    and one filter more per thread; a neighbour VM keeps running (and still
#    answers) while hostile test guests run beside it; --no-sandbox is loud;
#    named descriptors (--fd): the jailed VM process holds exactly the named
#    ones, and the control channel v2 hands more in at run time (ctl_probe,
#    next to SB_PROBE: attach-fd, list-fds, refusals that close what came).
# Every wait has a deadline, every bulkhead call a `timeout -k`. Prints
# PASS/FAIL lines, "SKIP what: why" per skip and "N passed, N failed,
# N skipped". Must run as root; with BULKHEAD given, /dev/kvm and a cgroup
# hierarchy must exist (their absence fails, it does not skip).
P=$1
BH=${2:-}
ELF=${3:-}
T=${TMPDIR:-/tmp}/sbtests.$$
mkdir -p "$T"
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh" # ok, bad, now_ms, wait_bounded, counters

echo "--- allowlist sizes"
"$P" --sizes

FORBIDDEN="execve open create socket tcp ptrace mount rlimit setuid fork thread mmap-exec mprotect-exec ioctl-bad ioctl-kvm kill chroot unshare bpf"

echo "--- 1. seccomp: forbidden operations kill the process, per thread kind"
for kind in main vcpu event; do
	"$P" "$kind" ok </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q '^ok: allowed' "$T/out"; then
		ok "$kind/allowed-baseline"
	else
		bad "$kind/allowed-baseline" "exit $rc: $(cat "$T/out" "$T/err" | head -n 3)"
	fi
	# 32 threads of this kind allocating at once (a VM with many vCPUs):
	# glibc's arena bookkeeping must not touch files after the jail.
	"$P" "$kind" malloc-threads </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q '^malloc-threads: allowed' "$T/out"; then
		ok "$kind/32-threads-allocating"
	else
		bad "$kind/32-threads-allocating" "exit $rc: $(cat "$T/out" "$T/err" | head -n 3)"
	fi
	killed=""
	survived=""
	for op in $FORBIDDEN; do
		"$P" "$kind" "$op" </dev/null >"$T/out" 2>"$T/err"
		rc=$?
		if [ "$rc" = 1 ] && grep -q 'killed by SIGSYS' "$T/err" && ! [ -s "$T/out" ]; then
			killed="$killed $op"
		else
			survived="$survived $op(exit $rc: $(head -c 80 "$T/out" "$T/err" | tr '\n' ' '))"
		fi
	done
	if [ -z "$survived" ]; then
		ok "$kind/forbidden: SIGSYS for$killed"
	else
		bad "$kind/forbidden" "not killed:$survived"
	fi
done

echo "--- 2. every layer but seccomp still stops them"
# op:accepted errnos (the first layer that answers depends on the kernel)
for spec in execve:ENOENT,EACCES open:ENOENT,EACCES create:EROFS,EACCES \
	tcp:EACCES,ENETUNREACH ptrace:EPERM,ESRCH mount:EPERM rlimit:EPERM setuid:EPERM \
	kill:ESRCH,EPERM chroot:EPERM; do
	op=${spec%%:*}
	errs=${spec#*:}
	"$P" --layers-only main "$op" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	got=$(sed -n "s/^$op: blocked (\([A-Z]*\))$/\1/p" "$T/out")
	case ",$errs," in
	*",$got,"*) [ -n "$got" ] && [ "$rc" = 0 ] && { ok "layers/$op: $got"; continue; } ;;
	esac
	bad "layers/$op" "exit $rc, want one of $errs: $(cat "$T/out" "$T/err" | head -n 3)"
done

# child_of PID: the first child process of PID (busybox has no pgrep).
child_of() {
	for st in /proc/[0-9]*/stat; do
		awk -v p="$1" '$4 == p { print $1; exit }' "$st" 2>/dev/null
	done | head -n 1
}

# start_echo_vm [RUN OPTIONS]: the echo guest (waits for a line on its
# console) jailed in the background; its console input is fd 5 (a FIFO), $nb
# the supervisor's PID; returns once the guest said "echo: ready" (or 30 s).
start_echo_vm() {
	rm -f "$T/nb"
	mkfifo "$T/nb"
	# Not under timeout(1): the tests signal this very process ($nb, the
	# supervisor); every wait for it is a wait_bounded instead.
	"$BH" run --kernel "$ELF/echo.elf" --test-device --mem 64M "$@" <"$T/nb" >"$T/nb.out" \
		2>"$T/nb.err" &
	nb=$!
	exec 5>"$T/nb"
	i=0
	while [ $i -lt 300 ] && ! grep -q 'echo: ready' "$T/nb.out"; do sleep 0.1; i=$((i + 1)); done
}

# status_of PID FIELD: a line's value from /proc/PID/status
status_of() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | head -n 1; }

# check_jailed NAME PID [UID]: the properties every jailed VM process has.
check_jailed() {
	name=$1 pid=$2 want_uid=${3:-}
	why=""
	uid=$(status_of "$pid" Uid | awk '{ print $1 }')
	[ -n "$uid" ] && [ "$uid" != 0 ] || why="$why; uid '$uid'"
	[ -z "$want_uid" ] || [ "$uid" = "$want_uid" ] || why="$why; uid $uid, want $want_uid"
	for f in CapInh CapPrm CapEff CapBnd CapAmb; do
		v=$(status_of "$pid" $f)
		[ "$v" = 0000000000000000 ] || why="$why; $f $v"
	done
	[ "$(status_of "$pid" NoNewPrivs)" = 1 ] || why="$why; no_new_privs off"
	[ "$(status_of "$pid" Seccomp)" = 2 ] || why="$why; seccomp not in filter mode"
	for ns in mnt pid net ipc uts cgroup; do
		[ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink "/proc/self/ns/$ns")" ] ||
			why="$why; shares our $ns namespace"
	done
	grep -q '^Max core file size *0 ' "/proc/$pid/limits" || why="$why; core limit"
	grep -q '^Max open files' "/proc/$pid/limits" || why="$why; no limits"
	# Limits for 1 vCPU and 64 MiB: RAM + 256 MiB, (1 + 1) CPUs, 1 + 8 pids.
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		cg=$(sed -n "s/^0::\(.*bulkhead-vm-$pid\)$/\1/p" "/proc/$pid/cgroup")
		d=/sys/fs/cgroup$cg
		lim="$(cat "$d/memory.max" "$d/cpu.max" "$d/pids.max" 2>/dev/null | tr '\n' ' ')"
		[ -n "$cg" ] && [ "$lim" = "335544320 200000 100000 9 " ] ||
			why="$why; cgroup v2 '$cg' limits '$lim'"
	elif [ -e /sys/fs/cgroup/memory/cgroup.procs ]; then
		lim=""
		for c in memory:memory.limit_in_bytes cpu:cpu.cfs_quota_us pids:pids.max; do
			# "N:cpu,cpuacct:/path": the line whose controller list has it
			cg=$(awk -F: -v c="${c%%:*}" -v d="bulkhead-vm-$pid" \
				'{ n = split($2, a, ","); for (i = 1; i <= n; i++)
				   if (a[i] == c && index($3, d)) print $3 }' "/proc/$pid/cgroup")
			lim="$lim$(cat "/sys/fs/cgroup/${c%%:*}$cg/${c#*:}" 2>/dev/null) "
		done
		[ "$lim" = "335544320 200000 9 " ] || why="$why; cgroup v1 limits '$lim'"
	else
		why="$why; no cgroup hierarchy (neither v2 nor v1 memory) under /sys/fs/cgroup"
	fi
	# The environment is wiped, not just unset (SB_SECRET is set below).
	! grep -q SB_SECRET "/proc/$pid/environ" || why="$why; environment still readable"
	echo "$uid" >>"$T/uids"
	if [ -z "$why" ]; then ok "$name (uid $uid)"; else bad "$name" "${why#; }"; fi
}

echo "--- 3. a held jail, inspected from outside"
: >"$T/uids"
mkfifo "$T/f1" "$T/f2"
SB_SECRET=hunter2 "$P" --hold vcpu ok <"$T/f1" >"$T/h1" 2>&1 &
h1=$!
"$P" --hold event ok <"$T/f2" >"$T/h2" 2>&1 &
h2=$!
exec 3>"$T/f1" 4>"$T/f2"
i=0
while [ $i -lt 100 ] && ! { grep -q hostpid "$T/h1" && grep -q hostpid "$T/h2"; }; do
	sleep 0.1
	i=$((i + 1))
done
p1=$(sed -n 's/^hostpid //p' "$T/h1")
p2=$(sed -n 's/^hostpid //p' "$T/h2")
if [ -n "$p1" ] && [ -n "$p2" ]; then
	check_jailed "held-jail/1" "$p1"
	check_jailed "held-jail/2" "$p2"
	# sb_probe's jail: 1 vCPU, files up to 1 MiB; soft = hard everywhere.
	lims=$(awk '/^Max (processes|file size|core file size|open files)/ {
		print $(NF - 2), $(NF - 1) }' "/proc/$p1/limits" | tr '\n' ' ')
	case "$lims" in
	"1048576 1048576 0 0 5 5 "[0-9]*) ok "held-jail/rlimits (fsize core nproc nofile: $lims)" ;;
	*) bad "held-jail/rlimits" "fsize core nproc nofile: $lims" ;;
	esac
	# The address-space backstop: finite, soft = hard (guest RAM + 2 GiB +
	# 32 MiB per vCPU; none in sanitizer builds).
	as=$(awk '/^Max address space/ { print $(NF - 2), $(NF - 1) }' "/proc/$p1/limits")
	case "$as" in
	unlimited*) bad "held-jail/address-space-backstop" "Max address space: $as" ;;
	*) [ "${as% *}" = "${as#* }" ] && ok "held-jail/address-space-backstop ($as)" ||
		bad "held-jail/address-space-backstop" "soft != hard: $as" ;;
	esac
	nfd=$(ls "/proc/$p1/fd" | wc -l)
	[ "$nfd" -le 3 ] && ok "held-jail/only-stdio-fds ($nfd)" ||
		bad "held-jail/only-stdio-fds" "$(ls -l "/proc/$p1/fd" | tail -n +2)"
	cg=$(sed -n 's/^[0-9]*:[a-z,]*://p' "/proc/$p1/cgroup" | grep "bulkhead-vm-$p1" | head -n 1)
else
	bad "held-jail" "no host pid: $(cat "$T/h1" "$T/h2" | head -n 4)"
fi
if [ "$(sort -u "$T/uids" | wc -l)" = 2 ]; then
	ok "held-jail/distinct-uids ($(tr '\n' ' ' <"$T/uids"))"
else
	bad "held-jail/distinct-uids" "$(tr '\n' ' ' <"$T/uids")"
fi
exec 3>&- 4>&-
wait_bounded "$h1" 30 "held jail 1"
r1=$?
wait_bounded "$h2" 30 "held jail 2"
if [ "$r1" = 0 ] && grep -q '^ok: allowed' "$T/h1"; then
	ok "held-jail/runs-after-inspection"
else
	bad "held-jail/runs-after-inspection" "exit $r1: $(cat "$T/h1")"
fi
if [ -n "${p1:-}" ]; then
	left=$(find /sys/fs/cgroup -maxdepth 4 -name "bulkhead-vm-$p1" 2>/dev/null)
	[ -z "$left" ] && ok "cgroup-removed-at-exit${cg:+ ($cg)}" || bad "cgroup-removed-at-exit" "$left"
fi

# held_check NAME: a held jail inspected with check_jailed, then released.
held_check() {
	rm -f "$T/f3"
	mkfifo "$T/f3"
	"$P" --hold vcpu ok <"$T/f3" >"$T/h3" 2>&1 &
	h3=$!
	exec 6>"$T/f3"
	i=0
	while [ $i -lt 100 ] && ! grep -q hostpid "$T/h3"; do sleep 0.1; i=$((i + 1)); done
	p3=$(sed -n 's/^hostpid //p' "$T/h3")
	if [ -n "$p3" ]; then check_jailed "$1" "$p3"; else bad "$1" "$(head -n 3 "$T/h3")"; fi
	exec 6>&-
	wait_bounded "$h3" 30 "held jail ($1)"
}

# A VM process killed outright (OOM killer, operator): the supervisor says
# so, exits 1 (host failure) and still removes the cgroup.
rm -f "$T/f3"
mkfifo "$T/f3"
"$P" --hold vcpu ok <"$T/f3" >"$T/h3" 2>"$T/e3" &
h3=$!
exec 6>"$T/f3"
i=0
while [ $i -lt 100 ] && ! grep -q hostpid "$T/h3"; do sleep 0.1; i=$((i + 1)); done
p3=$(sed -n 's/^hostpid //p' "$T/h3")
[ -n "$p3" ] && kill -KILL "$p3"
wait_bounded "$h3" 30 "the supervisor of a killed jail"
rc=$?
exec 6>&-
left=$(find /sys/fs/cgroup -maxdepth 4 -name "bulkhead-vm-$p3" 2>/dev/null)
if [ -n "$p3" ] && [ "$rc" = 1 ] && grep -q 'killed by SIGKILL' "$T/e3" && [ -z "$left" ]; then
	ok "vm-process-killed: reported, exit 1, cgroup removed"
else
	bad "vm-process-killed" "exit $rc, cgroup left '$left': $(head -n 2 "$T/e3")"
fi

# A VM process that ignores the stop signal the supervisor forwards (here the
# held sb_probe: its stop signals stay blocked, nothing reads them; a VMM
# whose vCPUs never stop would look the same): the supervisor kills it after
# its grace period (JAIL_STOP_GRACE_S: 10 s for its one vCPU), says so, and exits 4 (stopped
# by a signal) instead of waiting forever. (Once: not again with real VMs.)
[ -n "$BH" ] || {
rm -f "$T/f3"
mkfifo "$T/f3"
"$P" --hold vcpu ok <"$T/f3" >"$T/h3" 2>"$T/e3" &
h3=$!
exec 6>"$T/f3"
i=0
while [ $i -lt 100 ] && ! grep -q hostpid "$T/h3"; do sleep 0.1; i=$((i + 1)); done
p3=$(sed -n 's/^hostpid //p' "$T/h3")
t0=$(date +%s)
kill -TERM "$h3"
i=0
while [ $i -lt 300 ] && kill -0 "$h3" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$h3" 2>/dev/null; then
	kill -KILL "$h3" "$p3" 2>/dev/null
	wait "$h3"
	bad "supervisor-escalates-to-SIGKILL" "still running 30 s after SIGTERM"
else
	wait "$h3"
	rc=$?
	took=$(($(date +%s) - t0))
	if [ "$rc" = 4 ] && [ "$took" -ge 9 ] && [ "$took" -le 15 ] &&
		grep -q 'did not end within 10 s of the stop signal' "$T/e3" &&
		! kill -0 "$p3" 2>/dev/null; then
		ok "supervisor-escalates-to-SIGKILL (exit 4 after $took s)"
	else
		bad "supervisor-escalates-to-SIGKILL" "exit $rc after $took s: $(head -n 2 "$T/e3")"
	fi
fi
exec 6>&-
}

# Pure cgroup v2 with us in a leaf that holds processes (a systemd session
# scope on Debian): our cgroup cannot delegate controllers ("no internal
# processes"), so the VM's cgroup goes under <root>/bulkhead instead.
if [ -e /sys/fs/cgroup/cgroup.controllers ] && [ "$(cat /proc/self/cgroup)" = "0::/" ]; then
	leaf=/sys/fs/cgroup/sbtest-leaf.$$
	if mkdir "$leaf" && echo $$ >"$leaf/cgroup.procs"; then
		held_check "cgroup-v2-from-a-busy-leaf"
		echo $$ >/sys/fs/cgroup/cgroup.procs
	else
		bad "cgroup-v2-from-a-busy-leaf" "cannot set up the leaf"
	fi
	rmdir "$leaf" 2>/dev/null
fi

echo "--- 3b. started unprivileged: a user namespace, then the same jail"
if setpriv --help 2>&1 | grep -q -- --reuid && [ "$(id -u)" = 0 ]; then
	asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	asnobody "$P" vcpu ok </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if grep -q 'cannot create a user namespace' "$T/err"; then
		# The documented clear path where user namespaces are disabled.
		[ "$rc" = 1 ] && ok "unprivileged/refused-clearly" ||
			bad "unprivileged/refused-clearly" "exit $rc"
	elif [ "$rc" = 0 ] && grep -q '^ok: allowed' "$T/out"; then
		ok "unprivileged/allowed-baseline"
		asnobody "$P" vcpu execve </dev/null >"$T/out" 2>"$T/err"
		rc=$?
		[ "$rc" = 1 ] && grep -q 'killed by SIGSYS' "$T/err" && ok "unprivileged/execve-SIGSYS" ||
			bad "unprivileged/execve-SIGSYS" "exit $rc: $(head -c 200 "$T/err")"
		asnobody "$P" --layers-only main mount </dev/null >"$T/out" 2>"$T/err"
		grep -q '^mount: blocked (EPERM)' "$T/out" && ok "unprivileged/layers/mount: EPERM" ||
			bad "unprivileged/layers/mount" "$(cat "$T/out" "$T/err" | head -n 3)"
	else
		bad "unprivileged/allowed-baseline" "exit $rc: $(cat "$T/out" "$T/err" | head -n 4)"
	fi
else
	echo "SKIP unprivileged: needs root and util-linux's setpriv (busybox's lacks --reuid)"
	skip=$((skip + 1))
fi

if [ -n "$BH" ] && ! [ -c /dev/kvm ]; then
	bad "vm" "BULKHEAD given but no /dev/kvm: the real-VM checks cannot run"
elif [ -n "$BH" ]; then
	echo "--- 4. real VMs: the jail, a neighbour beside hostile guests"
	# VM cgroups that exist already (other VMs on this host) are not ours.
	find /sys/fs/cgroup -maxdepth 4 -name "bulkhead-vm-*" 2>/dev/null | sort >"$T/cg.before"
	: >"$T/uids"
	# The neighbour: the echo guest waits for a line on its console. A secret
	# in the environment must not reach the jailed VM process.
	export SB_SECRET=hunter2
	start_echo_vm --sandbox-uid 4242 --sandbox-gid 4343
	unset SB_SECRET
	vmpid=$(child_of "$nb")
	if [ -n "$vmpid" ] && grep -q 'echo: ready' "$T/nb.out"; then
		check_jailed "vm/jailed" "$vmpid" 4242
		[ "$(status_of "$vmpid" Gid | awk '{ print $1 }')" = 4343 ] &&
			ok "vm/--sandbox-gid" || bad "vm/--sandbox-gid" "$(status_of "$vmpid" Gid)"
		# Each thread: the process-wide filter plus its own kind's.
		nf=""
		few=""
		for t in /proc/"$vmpid"/task/*; do
			n=$(sed -n 's/^Seccomp_filters:[[:space:]]*//p' "$t/status")
			nf="$nf ${n:-?}"
			[ -n "$n" ] && [ "$n" -ge 2 ] || few="$few ${t##*/}:${n:-none}"
		done
		# At least a vCPU thread and the event thread besides the main one.
		nt=$(echo $nf | wc -w)
		if [ -n "$few" ] || [ "$nt" -lt 3 ]; then
			bad "vm/per-thread-filters" "want >= 2 filters on each of >= 3 threads; per thread:$nf"
		else
			ok "vm/per-thread-filters (filters per thread:$nf)"
		fi
		grep -q 'sandbox: on:' "$T/nb.err" && ok "vm/sandbox-logged-at-start" ||
			bad "vm/sandbox-logged-at-start" "$(head -n 5 "$T/nb.err")"
	else
		bad "vm/neighbour-start" "$(cat "$T/nb.out" "$T/nb.err" | tail -n 10)"
	fi
	# Hostile guests beside it: wild accesses, faults, triple fault, resets.
	# Each ends as it does unjailed (the codes kvm_tests.sh checks).
	for spec in beyond_ram:0 unmapped:0 exception:5 triple_fault:3 i8042_reset:0; do
		g=${spec%%:*}
		timeout -k 5 30 "$BH" run --kernel "$ELF/$g.elf" --test-device --mem 64M </dev/null \
			>"$T/h.out" 2>"$T/h.err"
		rc=$?
		[ "$rc" = "${spec#*:}" ] && ok "vm/hostile-guest-in-jail/$g (exit $rc)" ||
			bad "vm/hostile-guest-in-jail/$g" "exit $rc: $(tail -n 3 "$T/h.err")"
	done
	# Hostile virtio drivers beside it (docs/virtio.md): each case checks the
	# documented outcome itself and exits 0; the neighbour must not notice.
	if ! [ -f "$ELF/virtio_hostile.elf" ]; then
		bad "vm/hostile-virtio-in-jail" "no $ELF/virtio_hostile.elf"
	else
		dd if=/dev/zero of="$T/vh.img" bs=1024 count=8192 2>/dev/null
		for c in loop next_oob len_overflow avail_ahead indirect blk_badframe ring_hole \
			msix_range pcicfg_ext; do
			timeout -k 5 30 "$BH" run --kernel "$ELF/virtio_hostile.elf" --test-device --mem 64M \
				--disk "path=$T/vh.img" --cmdline "case=$c" </dev/null >"$T/h.out" 2>"$T/h.err"
			rc=$?
			[ "$rc" = 0 ] && ok "vm/hostile-virtio-in-jail/$c" ||
				bad "vm/hostile-virtio-in-jail/$c" "exit $rc: $(tail -n 3 "$T/h.out" "$T/h.err")"
		done
	fi
	if kill -0 "$nb" 2>/dev/null; then
		echo "still-here" >&5
		exec 5>&-
		wait_bounded "$nb" 30 "the neighbour VM after its answer"
		rc=$?
		if [ "$rc" = 0 ] && grep -q 'echo: len 10 ' "$T/nb.out"; then
			ok "vm/neighbour-survives-hostile-guests-and-answers"
		else
			bad "vm/neighbour-survives-hostile-guests-and-answers" \
				"exit $rc: $(tail -n 5 "$T/nb.out" "$T/nb.err")"
		fi
	else
		exec 5>&-
		bad "vm/neighbour-survives-hostile-guests-and-answers" "neighbour died: $(tail -n 5 "$T/nb.err")"
	fi
	# Named descriptors: the start-up sweep keeps --fd keep=7 and closes the
	# unnamed fd 8 (the VMM reuses the number for its own fds later: what
	# counts is that only fd 7 still points at the file); -v lists them.
	echo keep >"$T/keep"
	start_echo_vm -v --fd keep=7 7<"$T/keep" 8<"$T/keep"
	vmpid=$(child_of "$nb")
	held=""
	for f in /proc/"$vmpid"/fd/*; do
		[ "$(readlink "$f")" = "$T/keep" ] && held="$held ${f##*/}"
	done
	if [ -n "$vmpid" ] && [ "$held" = " 7" ] &&
		grep -q 'named descriptors held: keep=7 (file)' "$T/nb.err"; then
		ok "vm/--fd-kept-by-the-sweep-others-closed"
	else
		bad "vm/--fd-kept-by-the-sweep-others-closed" \
			"fds on the file:${held:- none}, want 7: $(tail -n 3 "$T/nb.err")"
	fi
	kill -TERM "$nb"
	wait_bounded "$nb" 30 "the --fd VM after SIGTERM" >/dev/null
	exec 5>&-
	# The control channel v2 against the jailed VMM (its event thread's
	# filter): descriptors handed in at run time, refusals, garbage.
	CP=$(dirname "$P")/ctl_probe
	if [ -x "$CP" ]; then
		timeout -k 5 120 "$CP" "$T/ctl.sock" -- "$BH" run --kernel "$ELF/echo.elf" --test-device \
			--mem 64M --control-fd 3 --fd cfg=5 5<"$T/keep" </dev/null >"$T/cp.out" 2>"$T/cp.err"
		rc=$?
		grep '^list:' "$T/cp.out"
		while read -r st rest; do
			case "$st" in
			PASS) ok "vm/control-v2/$rest" ;;
			FAIL) bad "vm/control-v2/${rest%%:*}" "${rest#*: }" ;;
			esac
		done <"$T/cp.out"
		grep -q '^list: cfg(file)' "$T/cp.out" && ok "vm/control-v2/list-shows---fd-cfg" ||
			bad "vm/control-v2/list-shows---fd-cfg" "$(grep '^list' "$T/cp.out")"
		[ "$rc" = 0 ] || bad "vm/control-v2" "ctl_probe exit $rc: $(tail -n 5 "$T/cp.err")"
	else
		bad "vm/control-v2" "no ctl_probe next to $P"
	fi
	# Stop signals sent to the supervisor reach the VM, whose exit code
	# (4: stopped by a signal) comes back unchanged.
	start_echo_vm
	kill -TERM "$nb"
	wait_bounded "$nb" 30 "a VM sent SIGTERM"
	rc=$?
	exec 5>&-
	if [ "$rc" = 4 ] && grep -q 'stopped by signal 15' "$T/nb.err"; then
		ok "vm/SIGTERM-to-supervisor-stops-the-VM (exit 4)"
	else
		bad "vm/SIGTERM-to-supervisor-stops-the-VM" "exit $rc: $(tail -n 3 "$T/nb.err")"
	fi
	# bulkhead returns the guest's outcome before the kernel has destroyed
	# the VM; a cleaner removes the cgroup once the VM process is gone. So
	# nothing may be left after a short while: poll, bounded.
	left_behind() { # prints cgroups and bulkhead processes that are not ours from before
		find /sys/fs/cgroup -maxdepth 4 -name "bulkhead-vm-*" 2>/dev/null | sort >"$T/cg.after"
		grep -vxF -f "$T/cg.before" "$T/cg.after"
		for e in /proc/[0-9]*/exe; do
			[ "$(readlink "$e" 2>/dev/null)" = "$BHEXE" ] && echo "process ${e%/exe}"
		done
	}
	BHEXE=$(readlink -f "$BH")
	i=0
	while [ -n "$(left_behind)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	left=$(left_behind)
	[ -z "$left" ] && ok "vm/cgroups-removed" || bad "vm/cgroups-removed" "$left"
	# The early exit: a VM's outcome comes back at once, and within a few
	# seconds neither its process, nor the cleaner, nor its cgroup remain.
	timeout -k 5 30 "$BH" run --kernel "$ELF/exit_status.elf" --test-device --mem 64M \
		--cmdline status=7 </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	i=0
	while [ -n "$(left_behind)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	left=$(left_behind)
	if [ "$rc" = 5 ] && grep -q 'test status 7' "$T/err" && [ -z "$left" ]; then
		ok "vm/early-exit-code-then-nothing-left (exit 5)"
	else
		bad "vm/early-exit-code-then-nothing-left" "exit $rc, left: $left; $(tail -n 2 "$T/err")"
	fi
	timeout -k 5 30 "$BH" run --kernel "$ELF/hello.elf" --test-device --mem 64M --no-sandbox \
		</dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'SANDBOX DISABLED' "$T/err"; then
		ok "vm/--no-sandbox-is-loud"
	else
		bad "vm/--no-sandbox-is-loud" "exit $rc: $(head -n 3 "$T/err")"
	fi
	# SIGKILL of the supervisor (an operator's or the daemon's kill -9)
	# takes the VM with it: the parent-death signal must survive the uid
	# drop (the kernel clears it when credentials change).
	start_echo_vm
	vmpid=$(child_of "$nb")
	kill -KILL "$nb"
	wait_bounded "$nb" 10 "a supervisor sent SIGKILL" >/dev/null
	exec 5>&-
	alive() { [ -r "/proc/$1/stat" ] && awk '{ exit $3 == "Z" }' "/proc/$1/stat"; }
	i=0
	while [ -n "$vmpid" ] && alive "$vmpid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if [ -n "$vmpid" ] && ! alive "$vmpid"; then
		ok "vm/SIGKILL-of-supervisor-leaves-no-orphan-VM"
	else
		bad "vm/SIGKILL-of-supervisor-leaves-no-orphan-VM" "VM process '$vmpid' still running"
		[ -n "$vmpid" ] && kill -KILL "$vmpid" 2>/dev/null
	fi
	# (its cgroup directory is left behind by design: nobody was left to
	# remove it; remove it here so the host stays clean)
	find /sys/fs/cgroup -maxdepth 4 -name "bulkhead-vm-*" 2>/dev/null | sort >"$T/cg.after"
	for d in $(grep -vxF -f "$T/cg.before" "$T/cg.after"); do rmdir "$d" 2>/dev/null; done
fi

rm -rf "$T"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
