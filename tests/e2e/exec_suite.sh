#!/bin/sh
# tests/e2e/exec_suite.sh BULKHEAD EXEC_DRIVER GUEST_DIR ROOTFS [BULKHEADD]
#
# `bulkhead exec` end to end, as a user runs it, in real VMs (POSIX sh: runs
# in the nested KVM host's busybox as well as on a host with /dev/kvm).
# GUEST_DIR: the exec guest on the stock kernel (scripts/prepare-exec.sh
# --stock-guest: kernel, busybox initramfs with the vsock/EROFS/overlay
# modules, exec-init and the agent); ROOTFS: the busybox root filesystem
# (scripts/mk-exec-rootfs-busybox.sh: a real userland, ~2 MiB, where the
# Debian one is too slow to boot here). Every CLI case is a VM of its own
# (~20-30 s nested); the containment cases share ONE VM through
# EXEC_DRIVER (tests/e2e/exec_driver: the real exec VM, VMM, agent and host
# session, many jobs in turn: each later job proves the guest and its agent
# survived the earlier ones).
#   CLI: stdout and stderr kept apart, the program's own exit status, -i
#   (stdin forwarded), --env/--workdir/--user default 1000, --copy-in,
#   --copy-out, --json-status, no network by default; 127 not found; 126
#   cannot invoke; 128+N killed by signal N; 124 --timeout; signals sent to
#   `bulkhead exec` reach the program; --copy-out refuses a symbolic link and
#   a file over --copy-max (125), skips a link and a FIFO inside a tree; 125
#   for bulkhead's own errors; -t (a pty: the program's stdio are terminals,
#   the window size and TERM reach it, a resize is forwarded; run under
#   tests/e2e/ptyrun, next to EXEC_DRIVER); --copy-in over --copy-max refused
#   with 125 before the program runs; no VM directory and no VMM process left
#   afterwards.
#   Containment (one VM): host files not visible, fork bomb (pids cap),
#   unbounded allocation (guest OOM, reported), stdout flood (capped,
#   dropped bytes counted), a vCPU spinner; no capabilities, the guest clock
#   stepped to the host's; vsock (tests/e2e/vsock_probe, next to EXEC_DRIVER,
#   copied in): connections to host ports not allowed refused, also 200 in a
#   row; the agent's channel out of reach (no vsock descriptor inherited, no
#   root process's descriptor table readable, its port neither reachable nor
#   answering for it when taken); still alive after all that.
#   With BULKHEADD (one more VM): bulkheadd runs an agent VM (the same guest
#   with bulkhead.agent=serve) and `bulkhead exec --vm` runs several commands
#   in it: status and stdio kept apart, state kept between commands, the
#   warm command's latency, --timeout kills the program and not the VM,
#   options that are the VM's refused; then the VM is removed.
# Prints PASS/FAIL lines and "N passed, N failed".
set -u
BH=${1:?usage: exec_suite.sh BULKHEAD EXEC_DRIVER GUEST_DIR ROOTFS}
DRIVER=${2:?exec driver}
GUEST=${3:?exec guest dir}
ROOTFS=${4:?root filesystem image}
PTYRUN=$(dirname "$DRIVER")/ptyrun
PROBE=$(dirname "$DRIVER")/vsock_probe
BHD=${5:-}
W=$(mktemp -d "${TMPDIR:-/tmp}/exec-suite.XXXXXX")
# The VMs' private directories land in TMPDIR: checked empty at the end.
TMPDIR=$W/tmp
export TMPDIR
# The snapshot cache of the fast path (the first exec makes it): the suite's own.
XDG_CACHE_HOME=$W/cache
export XDG_CACHE_HOME
SNAPS=$W/cache/bulkhead/exec-snap
mkdir -p "$TMPDIR" "$W/out" "$W/in/sub"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
# check NAME WHY-IF-FALSE: the last command's status decides
check() { if [ "$rc_check" = 0 ]; then ok "$1"; else bad "$1" "$2"; fi; }
show() { for f in "$@"; do [ -f "$f" ] && sed "s|^|    $(basename "$f"): |" "$f" | tail -n 15; done; }
bx() { # bx NAME ARGS...: bulkhead exec, out/err/json in $W/NAME.*, status in $rc
	n=$1
	shift
	t0=$(date +%s)
	ms=$(now_ms)
	timeout -k 5 300 "$BH" exec --guest "$GUEST" --rootfs "$ROOTFS" --boot-timeout 240s \
		--json-status "$W/$n.json" "$@" </dev/null >"$W/$n.out" 2>"$W/$n.err"
	rc=$?
	ms=$(($(now_ms) - ms))
	echo "bulkhead exec ($n): exit $rc after $ms ms ($(grep -o '"started_from": "[a-z]*"' "$W/$n.json" 2>/dev/null))"
}
from() { grep -q "\"started_from\": \"$2\"" "$W/$1.json"; } # from NAME boot|snapshot
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
secret=bulkhead-host-secret-$$-$(date +%s)
echo "$secret" >"$W/host-secret"
echo "copied in" >"$W/in/sub/file"

# ---- 0: the fast path: a snapshot of the booted guest, made on first use ----
# Each exec prints 16 random bytes and the guest's clock; the snapshot is at
# least 8 s old when the next exec restores it.
rnd='head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; date +%s'
bx snap1 -- sh -c "test -e /tmp/mark && echo mark-seen; echo mark >/tmp/mark; $rnd; echo out-1; echo err-1 >&2; exit 5"
cold=$ms
entry=$(ls -d "$SNAPS"/*/ 2>/dev/null | head -n 1)
[ "$rc" = 5 ] && from snap1 boot && [ "$(sed -n 3p "$W/snap1.out")" = out-1 ] && [ "$(cat "$W/snap1.err")" = err-1 ] &&
	[ -f "$entry/manifest" ] && [ -f "$entry/state" ] && grep -q '^rootfs ' "$entry/key"; rc_check=$?
check "exec fast path: the first exec boots (started_from boot, status 5, stdio apart) and saves the snapshot with its key" \
	"exit $rc; $(show "$W/snap1.out" "$W/snap1.err" "$W/snap1.json"; ls -la "$SNAPS" "$entry" 2>&1)"
sleep 8
bx snap2 -- sh -c "test -e /tmp/mark && echo mark-seen; echo mark >/tmp/mark; $rnd; echo out-2; echo err-2 >&2; cat /proc/sys/kernel/random/boot_id; exit 6"
fast2=$ms
h=$(date +%s)
[ "$rc" = 6 ] && from snap2 snapshot && [ "$(sed -n 3p "$W/snap2.out")" = out-2 ] && [ "$(cat "$W/snap2.err")" = err-2 ]; rc_check=$?
check "exec fast path: the next exec starts from the snapshot (started_from snapshot, status 6, stdio apart; $fast2 ms vs $cold ms booting)" \
	"exit $rc; $(show "$W/snap2.out" "$W/snap2.err" "$W/snap2.json")"
! grep -q mark-seen "$W/snap2.out"; rc_check=$?
check "exec fast path: a file written by one exec is not seen by the next (a throwaway overlay each)" "$(show "$W/snap2.out")"
g=$(sed -n 2p "$W/snap2.out")
case "$g" in '' | *[!0-9]*) rc_check=1 ;; *) [ $((h - g)) -le 4 ] && [ $((g - h)) -le 4 ]; rc_check=$? ;; esac
check "exec fast path: the restored guest's clock was stepped to the host's (within 4 s; the snapshot is 8 s old)" \
	"guest '$g', host $h"
bx snap3 -- sh -c "test -e /tmp/mark && echo mark-seen; $rnd; cat /proc/sys/kernel/random/boot_id"
r1=$(sed -n 1p "$W/snap1.out"); r2=$(sed -n 1p "$W/snap2.out"); r3=$(sed -n 1p "$W/snap3.out")
echo "random bytes: boot $r1, restores $r2 $r3; exec from the snapshot: $fast2 ms, $ms ms; booting (and saving it): $cold ms"
echo "boot_id of the restores: $(sed -n 4p "$W/snap2.out") $(sed -n 3p "$W/snap3.out")"
[ "$rc" = 0 ] && from snap3 snapshot && [ ${#r2} = 32 ] && [ ${#r3} = 32 ] && [ "$r2" != "$r3" ] &&
	[ "$r1" != "$r2" ] && [ "$r1" != "$r3" ] && ! grep -q mark-seen "$W/snap3.out"; rc_check=$?
check "exec fast path: two execs from one snapshot read different random bytes (the RNG reseeded)" \
	"exit $rc; '$r1' '$r2' '$r3'; $(show "$W/snap3.err" "$W/snap3.json")"
# a byte of the state file flipped: the restore refuses it (manifest SHA-256)
st=$entry/state
b=$(od -An -tu1 -j 300 -N 1 "$st" | tr -d ' ')
chmod u+w "$st" 2>/dev/null
printf "\\$(printf %o $(((b + 1) % 256)))" | dd of="$st" bs=1 seek=300 count=1 conv=notrunc 2>/dev/null
cp "$st" "$W/state.corrupt"
# and what a build killed midway leaves: swept by the next build
mkdir "${entry%/}.tmp.99999" && : >"${entry%/}.tmp.99999/state"
bx snapbad -- sh -c 'echo after-corruption; exit 9'
sed 's/^/  | /' "$W/snapbad.err"
[ "$rc" = 9 ] && from snapbad boot && [ "$(cat "$W/snapbad.out")" = after-corruption ] &&
	grep -q 'warning: the cached snapshot .* was refused' "$W/snapbad.err" &&
	[ "$(grep -c 'bulkhead exec: warning' "$W/snapbad.err")" = 1 ]; rc_check=$?
check "exec fast path: a corrupted snapshot: one warning, the VM boots, the right result (9)" \
	"exit $rc; $(show "$W/snapbad.out" "$W/snapbad.err" "$W/snapbad.json")"
bx snap4 -- sh -c 'echo from-rebuilt'
[ "$rc" = 0 ] && from snap4 snapshot && [ "$(cat "$W/snap4.out")" = from-rebuilt ] && [ -f "$entry/manifest" ] &&
	! cmp -s "$entry/state" "$W/state.corrupt" && [ ! -s "$W/snap4.err" ]; rc_check=$?
check "exec fast path: the refused snapshot was rebuilt; the next exec starts from it" \
	"exit $rc; $(show "$W/snap4.out" "$W/snap4.err" "$W/snap4.json")"
bx nosnap --no-snapshot -- sh -c 'echo booted'
[ "$rc" = 0 ] && from nosnap boot && [ "$(cat "$W/nosnap.out")" = booted ] && [ ! -s "$W/nosnap.err" ] &&
	[ "$(ls "$SNAPS" | grep -vc '\.lock$')" = 1 ]; rc_check=$?
check "exec --no-snapshot: boots (started_from boot); the cache holds one entry, no leftovers (a stale build swept)" \
	"exit $rc; $(show "$W/nosnap.out" "$W/nosnap.err" "$W/nosnap.json"; ls -la "$SNAPS")"

# ---- 1: options, stdio, stdin, copies, status, no network ----
printf 'line-from-stdin\n' >"$W/stdin"
t0=$(date +%s)
timeout -k 5 300 "$BH" exec --guest "$GUEST" --rootfs "$ROOTFS" --boot-timeout 240s -i \
	--env GREETING=hello --workdir /tmp --copy-in "$W/in:/tmp/data" \
	--copy-out "/tmp/made:$W/made" --json-status "$W/main.json" -- \
	sh -c 'read -r l; echo "in: $l"; echo "$GREETING from $(pwd) as $(id -u):$(id -g)"
		cat /tmp/data/sub/file; echo to-err >&2
		echo "net: $(sed -n "3,\$s/:.*//p" /proc/net/dev | tr -d " " | tr "\n" " ")"
		if nc -w 5 10.0.2.2 80 </dev/null 2>/dev/null; then echo net-reached; else echo net-unreachable; fi
		mkdir /tmp/made && echo result >/tmp/made/x; exit 7' \
	<"$W/stdin" >"$W/main.out" 2>"$W/main.err"
rc=$?
echo "bulkhead exec (main): exit $rc after $(($(date +%s) - t0)) s"
[ "$rc" = 7 ]; rc_check=$?
check "exec: the program's own exit status (7) is bulkhead exec's" "exit $rc"
[ "$(cat "$W/main.err")" = to-err ] && ! grep -q to-err "$W/main.out"; rc_check=$?
check "exec: stdout and stderr kept apart" "$(show "$W/main.out" "$W/main.err")"
grep -qx "in: line-from-stdin" "$W/main.out"; rc_check=$?
check "exec -i: stdin reaches the program" "no 'in: line-from-stdin' line"
grep -qx "hello from /tmp as 1000:1000" "$W/main.out"; rc_check=$?
check "exec: --env and --workdir reach the program, run as the unprivileged 1000:1000" \
	"$(grep from "$W/main.out")"
grep -qx "copied in" "$W/main.out"; rc_check=$?
check "exec --copy-in: the host tree arrived" "file not read in the guest"
[ "$(cat "$W/made/x" 2>/dev/null)" = result ]; rc_check=$?
check "exec --copy-out: the result came back" "$W/made/x missing or wrong"
grep -qx "net: lo " "$W/main.out" && grep -qx net-unreachable "$W/main.out"; rc_check=$?
check "exec: no network by default (only lo, a connect fails)" "$(grep net "$W/main.out")"
grep -q '"exit_code": 7,' "$W/main.json" && grep -q '"timed_out": false' "$W/main.json" &&
	grep -q '"oom_killed": false' "$W/main.json" && grep -Eq '"duration_ms": [1-9]' "$W/main.json"; rc_check=$?
check "exec --json-status: exit_code 7, not timed out, not OOM, a duration" "$(cat "$W/main.json" 2>&1)"
[ "$rc" = 7 ] || show "$W/main.out" "$W/main.err"

# ---- 2: 127, and stdin closed without -i (the program does not wait for it) ----
bx notfound -- /no/such/program
[ "$rc" = 127 ] && grep -q '"outcome": "not-found"' "$W/notfound.json" &&
	grep -q '"exit_code": 127' "$W/notfound.json"; rc_check=$?
check "exec: a program that does not exist: 127, outcome not-found" "exit $rc; $(cat "$W/notfound.json" 2>&1)"

# ---- 3: 126 ----
bx noexec -- /etc/passwd
[ "$rc" = 126 ] && grep -q '"outcome": "cannot-invoke"' "$W/noexec.json"; rc_check=$?
check "exec: a program that cannot be run (not executable): 126" "exit $rc; $(cat "$W/noexec.json" 2>&1)"

# ---- 4: 128+N; without -i stdin is empty ----
bx killed -- sh -c 'cat; echo stdin-closed; kill -KILL $$'
[ "$rc" = 137 ] && grep -q '"signal": 9' "$W/killed.json" && grep -qx stdin-closed "$W/killed.out"; rc_check=$?
check "exec: killed by SIGKILL: 137 (128+9), signal 9 in --json-status; stdin empty without -i" \
	"exit $rc; $(cat "$W/killed.json" "$W/killed.out" 2>&1)"

# ---- 5: --timeout ----
bx timeout --timeout 5s -- sh -c 'echo started; sleep 600'
[ "$rc" = 124 ] && grep -q '"timed_out": true' "$W/timeout.json" && grep -q '"exit_code": 124' "$W/timeout.json" &&
	grep -qx started "$W/timeout.out"; rc_check=$?
check "exec --timeout 5s: the program stopped, 124, timed_out in --json-status" \
	"exit $rc; $(cat "$W/timeout.json" "$W/timeout.out" "$W/timeout.err" 2>&1 | tail -n 5)"

# ---- 6: a signal sent to bulkhead exec reaches the program ----
t0=$(date +%s)
: >"$W/sig.out"
timeout -k 5 300 "$BH" exec --guest "$GUEST" --rootfs "$ROOTFS" --boot-timeout 240s -- \
	sh -c 'trap "echo got-TERM; exit 42" TERM; echo ready; while :; do sleep 1; done' \
	</dev/null >"$W/sig.out" 2>"$W/sig.err" &
pid=$!
i=0
while [ $i -lt 2400 ] && ! grep -q ready "$W/sig.out" && kill -0 "$pid" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
echo "bulkhead exec (signal): exit $rc after $(($(date +%s) - t0)) s"
[ "$rc" = 42 ] && grep -qx got-TERM "$W/sig.out"; rc_check=$?
check "exec: SIGTERM sent to bulkhead exec reaches the program (its trap exits 42)" \
	"exit $rc; $(cat "$W/sig.out" "$W/sig.err" 2>&1 | tail -n 5)"

# ---- 7: --copy-out refusals ----
bx copyout --copy-max 1M --copy-out "/tmp/etc-link:$W/etc-back" --copy-out "/tmp/big:$W/big-back" \
	--copy-out "/tmp/res:$W/res-back" -- \
	sh -c 'ln -s /etc /tmp/etc-link; head -c 2097152 /dev/zero >/tmp/big
		mkdir /tmp/res; echo r >/tmp/res/r; ln -s /etc/passwd /tmp/res/pw; mkfifo /tmp/res/fifo'
[ "$rc" = 125 ] && [ ! -e "$W/etc-back" ] && [ ! -L "$W/etc-back" ] && grep -q 'symbolic link' "$W/copyout.err"; rc_check=$?
check "exec --copy-out of a symbolic link to /etc: refused, nothing written on the host, 125" \
	"exit $rc; $(ls -la "$W" | grep back; cat "$W/copyout.err")"
[ ! -e "$W/big-back" ] && grep -q '/tmp/big' "$W/copyout.err"; rc_check=$?
check "exec --copy-out of a file over --copy-max: refused, nothing left on the host" \
	"$(ls -la "$W/big-back" 2>&1; cat "$W/copyout.err")"
[ "$(cat "$W/res-back/r" 2>/dev/null)" = r ] && [ ! -e "$W/res-back/pw" ] && [ ! -L "$W/res-back/pw" ] &&
	[ ! -e "$W/res-back/fifo" ] && grep -q '2 entries skipped' "$W/copyout.err"; rc_check=$?
check "exec --copy-out of a tree with a symbolic link and a FIFO: the data copied, both skipped and counted" \
	"$(ls -la "$W/res-back" 2>&1; cat "$W/copyout.err")"

# ---- 8: 125 for bulkhead's own errors (no VM) ----
"$BH" exec --guest "$GUEST" --rootfs "$W/no-such-rootfs" --json-status "$W/norootfs.json" -- true \
	>/dev/null 2>"$W/norootfs.err"
rc=$?
[ "$rc" = 125 ] && grep -q 'no-such-rootfs' "$W/norootfs.err" && grep -q '"exit_code": 125' "$W/norootfs.json"; rc_check=$?
check "exec: a root filesystem that does not exist: 125 naming it, in --json-status too" \
	"exit $rc; $(cat "$W/norootfs.err" "$W/norootfs.json" 2>&1)"
"$BH" exec --timeout forever -- true >/dev/null 2>"$W/badopt.err"
rc=$?
[ "$rc" = 125 ] && grep -q -- "--timeout 'forever'" "$W/badopt.err"; rc_check=$?
check "exec: a bad option: 125 naming it" "exit $rc; $(cat "$W/badopt.err")"

# ---- 9: -t: a pseudo-terminal of the user's window size, resized ----
# bulkhead exec runs on a pty of 33x101 (tests/e2e/ptyrun); once the program
# has printed resize-me, the pty becomes 40x120 (SIGWINCH to bulkhead exec,
# which forwards the new size). Output through a pty ends lines with \r\n.
t0=$(date +%s)
TERM=bulkhead-term timeout -k 5 300 "$PTYRUN" -t 290 33 101 -r resize-me 40 120 -- \
	"$BH" exec --guest "$GUEST" --rootfs "$ROOTFS" --boot-timeout 240s -t --json-status "$W/tty.json" -- \
	sh -c 'test -t 0 && test -t 1 && test -t 2 && echo tty-ok; echo "tty=$(tty)"; echo "size=$(stty size)"
		echo "term=$TERM"; echo via-name >"$(tty)"; echo resize-me; i=0
		while [ "$(stty size)" != "40 120" ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
		echo "resized=$(stty size)"; exit 3' </dev/null >"$W/tty.raw" 2>"$W/tty.err"
rc=$?
echo "bulkhead exec -t (under ptyrun): exit $rc after $(($(date +%s) - t0)) s"
tr -d '\r' <"$W/tty.raw" >"$W/tty.out"
[ "$rc" = 3 ] && grep -qx tty-ok "$W/tty.out" && grep -Eqx 'tty=/dev/pts/[0-9]+' "$W/tty.out" &&
	grep -qx via-name "$W/tty.out" && grep -q '"exit_code": 3,' "$W/tty.json"; rc_check=$?
check "exec -t: stdin, stdout and stderr are a pty, /dev/pts/N by name (the user's); the status (3) stands" \
	"exit $rc; $(show "$W/tty.out" "$W/tty.err")"
grep -qx 'size=33 101' "$W/tty.out" && grep -qx 'term=bulkhead-term' "$W/tty.out"; rc_check=$?
check "exec -t: the user's window size (33x101) and TERM reach the program" "$(grep -E 'size|term' "$W/tty.out")"
grep -qx 'resized=40 120' "$W/tty.out"; rc_check=$?
check "exec -t: a window-size change (40x120, SIGWINCH) is forwarded to the program" \
	"$(grep resized "$W/tty.out")"

# ---- 10: --copy-in over --copy-max: refused with 125, the program not run ----
head -c 2097152 /dev/zero >"$W/big-in"
bx copyinbig --copy-max 1M --copy-in "$W/in:/tmp/small" --copy-in "$W/big-in:/tmp/big" -- \
	sh -c 'echo program-ran'
[ "$rc" = 125 ] && grep -q "copy-in.*big-in.*more than 1048576 bytes" "$W/copyinbig.err" &&
	! grep -q program-ran "$W/copyinbig.out" && grep -q '"exit_code": 125' "$W/copyinbig.json"; rc_check=$?
check "exec --copy-in of a file over --copy-max: 125 naming it and the cap, the program not run" \
	"exit $rc; $(cat "$W/copyinbig.out" "$W/copyinbig.err" "$W/copyinbig.json" 2>&1 | tail -n 8)"

# ---- containment: hostile programs, one after another in one VM ----
T=$(printf '\t')
{
	echo "run${T}hostfiles${T}120000${T}1048576${T}test ! -e '$W/host-secret' && ! grep -rqs '$secret' /etc /tmp /home /root /proc/cmdline && echo no-host-files"
	echo "run${T}forkbomb${T}120000${T}1048576${T}timeout -s KILL 10 sh -c 'f() { f | f & }; f'; echo survived"
	echo "run${T}oom${T}120000${T}1048576${T}a=0123456789abcdef; while :; do a=\$a\$a; done"
	echo "run${T}spin${T}120000${T}1048576${T}(while :; do :; done) & sleep 3; echo spun"
	echo "run${T}flood${T}120000${T}100000${T}head -c 5000000 /dev/zero"
	echo "run${T}privs${T}120000${T}1048576${T}id -u; id -g; grep CapEff /proc/self/status; date +%s"
	echo "copyin${T}$PROBE${T}/tmp/vsock_probe"
	echo "run${T}vsockhost${T}120000${T}1048576${T}P=/tmp/vsock_probe; \$P connect 2 1234; \$P connect 2 1024; \$P flood 2 1234 200"
	echo "run${T}agentchan${T}120000${T}1048576${T}P=/tmp/vsock_probe; \$P fds; \$P procfd; \$P connect 1 1024; \$P connect 3 1024; \$P listen 1024 3"
	echo "run${T}alive${T}120000${T}1048576${T}echo still-alive"
} >"$W/script"
t0=$(date +%s)
timeout -k 5 600 "$DRIVER" "$BH" "$GUEST" "$ROOTFS" "$W/out" 1 256 <"$W/script" >"$W/driver.log" 2>&1
drc=$?
echo "exec_driver: exit $drc after $(($(date +%s) - t0)) s"
sed 's/^/  | /' "$W/driver.log"
res() { grep -m1 "^$1 " "$W/driver.log"; }
cat "$W/out/vsockhost.out" "$W/out/agentchan.out" 2>/dev/null | sed 's/^/  | vsock_probe: /'
grep -q '^booted' "$W/driver.log"; rc_check=$?
check "containment: the VM booted and its agent answered" "$(tail -n 5 "$W/driver.log")"
[ "$(cat "$W/out/hostfiles.out" 2>/dev/null)" = no-host-files ]; rc_check=$?
check "containment: nothing of the host is visible in the guest" "$(res hostfiles)"
res forkbomb | grep -q "outcome=exited code=0 " && grep -qx survived "$W/out/forkbomb.out"; rc_check=$?
check "containment: a fork bomb is contained (pids cap), its shell survives" "$(res forkbomb)"
res oom | grep -Eq "outcome=signaled code=9 oom=[1-9]"; rc_check=$?
check "containment: unbounded allocation: OOM-killed in the guest and reported (SIGKILL, oom>=1)" "$(res oom)"
res spin | grep -q "outcome=exited code=0 " && grep -qx spun "$W/out/spin.out"; rc_check=$?
check "containment: a program spinning the vCPU: the agent still relays it" "$(res spin)"
res flood | grep -q "out=100000 err=0 dropped=4900000 " &&
	[ "$(wc -c <"$W/out/flood.out" | tr -d ' ')" = 100000 ]; rc_check=$?
check "containment: a stdout flood: 100000 bytes passed on, the rest dropped and counted" "$(res flood)"
p=$(tr '\n' ' ' <"$W/out/privs.out" 2>/dev/null)
case "$p" in "1000 1000 CapEff:${T}0000000000000000 "*) rc_check=0 ;; *) rc_check=1 ;; esac
check "containment: the program runs as 1000:1000 with no capabilities" "$(res privs): $p"
g=$(sed -n 4p "$W/out/privs.out" 2>/dev/null)
h=$(date +%s)
case "$g" in '' | *[!0-9]*) rc_check=1 ;; *) [ $((h - g)) -lt 600 ] && [ $((g - h)) -lt 600 ]; rc_check=$? ;; esac
check "containment: the guest clock was stepped to the host's (within 600 s)" "guest '$g', host $h"
grep -q '^copy /tmp/vsock_probe rc=0 ' "$W/driver.log" &&
	grep -Eqx 'connect 2:1234: failed: .+' "$W/out/vsockhost.out" &&
	grep -Eqx 'connect 2:1024: failed: .+' "$W/out/vsockhost.out"; rc_check=$?
check "containment: vsock connections to host ports not allowed (1234, the agent's 1024) are refused" \
	"$(res vsockhost); $(show "$W/out/vsockhost.out" "$W/out/vsockhost.err")"
grep -qx 'flood 2:1234: 200 attempts, 200 refused, 0 connected, 0 timed out' "$W/out/vsockhost.out"; rc_check=$?
check "containment: 200 vsock connections to a host port not allowed: each refused at once" \
	"$(grep flood "$W/out/vsockhost.out")"
grep -qx 'fds: 0 vsock descriptors inherited' "$W/out/agentchan.out" &&
	grep -Eqx 'procfd: [1-9][0-9]* root processes, 0 descriptor tables reachable' "$W/out/agentchan.out"; rc_check=$?
check "containment: the agent's channel is out of reach (none inherited, no root process's descriptors readable)" \
	"$(res agentchan); $(show "$W/out/agentchan.out" "$W/out/agentchan.err")"
grep -Eqx 'connect 1:1024: (failed: .+|timed out)' "$W/out/agentchan.out" &&
	grep -Eqx 'connect 3:1024: (failed: .+|timed out)' "$W/out/agentchan.out" &&
	grep -Eqx 'listen 1024: (bind failed: .+|bound, no connection in 3 s)' "$W/out/agentchan.out"; rc_check=$?
check "containment: the agent's vsock port cannot be reached from inside; a program taking it gets no host connection" \
	"$(grep -E 'connect|listen' "$W/out/agentchan.out")"
res alive | grep -q "outcome=exited code=0 " && grep -qx still-alive "$W/out/alive.out"; rc_check=$?
check "containment: after all of that the guest and its agent still run programs" "$(res alive)"

# ---- bulkheadd: one VM, many commands (POST /v1/vms/{id}/exec) ----
if [ -n "$BHD" ]; then
	D=$W/daemon
	mkdir -p "$D"
	BULKHEAD_SOCKET=$D/api.sock
	export BULKHEAD_SOCKET
	"$BHD" --socket "$BULKHEAD_SOCKET" --state-dir "$D/state" --vmm "$BH" --stop-timeout 2 \
		>"$D/daemon.log" 2>&1 &
	DPID=$!
	i=0
	while [ ! -S "$BULKHEAD_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	cat >"$D/vm.json" <<EOF
{ "kernel": "$GUEST/kernel", "initrd": "$GUEST/initrd", "mem": "256M",
  "cmdline": "$(cat "$GUEST/cmdline") bulkhead.agent=serve",
  "disks": [ { "path": "$ROOTFS", "read_only": true, "id": "bulkhead-rootfs" } ],
  "vsock": { "cid": 3, "socket": "$D/agent.vsock" } }
EOF
	timeout -k 5 60 "$BH" create --config "$D/vm.json" --name sandbox --start >"$D/create.out" 2>&1
	rc_check=$?
	check "daemon: create --start a VM whose guest runs the agent (bulkhead.agent=serve)" \
		"$(cat "$D/create.out"; tail -n 5 "$D/daemon.log")"
	dx() { # dx NAME EXEC-ARGS...: bulkhead exec --vm sandbox, status in $rc, time in $ms
		n=$1
		shift
		t0=$(now_ms)
		timeout -k 5 300 "$BH" exec --vm sandbox "$@" </dev/null >"$W/$n.out" 2>"$W/$n.err"
		rc=$?
		ms=$(($(now_ms) - t0))
		echo "bulkhead exec --vm ($n): exit $rc after $ms ms"
	}
	# the first one waits for the guest to boot: the daemon retries the agent
	dx vm1 --boot-timeout 240s -- sh -c 'echo out-1; echo err-1 >&2; echo kept >/tmp/state; exit 3'
	[ "$rc" = 3 ] && [ "$(cat "$W/vm1.out")" = out-1 ] && [ "$(cat "$W/vm1.err")" = err-1 ]
	rc_check=$?
	check "exec --vm: the program's status (3), stdout and stderr apart" \
		"exit $rc; $(show "$W/vm1.out" "$W/vm1.err"; tail -n 5 "$D/daemon.log")"
	dx vm2 -- sh -c 'cat /tmp/state; id -u'
	warm=$ms
	[ "$rc" = 0 ] && [ "$(cat "$W/vm2.out")" = "kept
1000" ]; rc_check=$?
	check "exec --vm: a second command sees the first one's file (state kept; warm: $warm ms)" \
		"exit $rc; $(show "$W/vm2.out" "$W/vm2.err")"
	echo "exec --vm: first command on a warm VM: $warm ms end to end (CLI start to exit)"
	dx vm3 --timeout 2s -- sh -c 'sleep 60'
	r3=$rc
	dx vm4 -- sh -c 'echo after-timeout'
	[ "$r3" = 124 ] && [ "$rc" = 0 ] && [ "$(cat "$W/vm4.out")" = after-timeout ]; rc_check=$?
	check "exec --vm --timeout: 124, the program killed and not the VM (the next command runs)" \
		"exits $r3, $rc; $(show "$W/vm3.err" "$W/vm4.out" "$W/vm4.err")"
	dx vm5 --mem 1G -- true
	[ "$rc" = 125 ] && grep -q -- "--mem does not go with --vm" "$W/vm5.err"; rc_check=$?
	check "exec --vm: an option that is the VM's (--mem): 125 naming it" "exit $rc; $(show "$W/vm5.err")"
	timeout -k 5 60 "$BH" kill sandbox >/dev/null 2>&1
	timeout -k 5 60 "$BH" rm sandbox >"$D/rm.out" 2>&1
	rc_check=$?
	check "daemon: the agent VM removed afterwards" "$(cat "$D/rm.out")"
	kill "$DPID" 2>/dev/null
	i=0
	while kill -0 "$DPID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
fi

# ---- nothing left on the host ----
left=$(ls -A "$TMPDIR")
procs=""
for c in /proc/[0-9]*/cmdline; do
	p=${c#/proc/}
	p=${p%/cmdline}
	[ "$p" = $$ ] && continue
	if tr '\0' ' ' 2>/dev/null <"$c" | grep -q -- "--console file:$TMPDIR"; then procs="$procs $p"; fi
done
[ -z "$left" ] && [ -z "$procs" ]; rc_check=$?
check "exec: every host-side trace of the VMs is gone (no private directory, no VMM process)" \
	"left in TMPDIR: '$left'; VMM processes:$procs"

rm -rf "$W"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
