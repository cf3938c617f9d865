#!/usr/bin/env bash
# tests/e2e/exec_vm.sh BUILD_DIR GUEST_DIR ROOTFS — `bulkhead exec` in real VMs:
# the containment cases of issue 12 (hostile programs) and the exit-status
# contract, each reported by the host and with the host unaffected.
#
# Cost: THREE Linux boots. One VM (tests/e2e/exec_driver: the real exec VM,
# VMM, agent and host session, many jobs in turn) runs the hostile programs
# one after another — each case is as strict as in a VM of its own, and the
# next case proves the guest and the agent survived the previous one; a case
# that ends a session (the timeout) gets its own boot through the CLI, and a
# third boot checks the CLI's options, --json-status and the cleanup.
# GUEST_DIR: the exec guest (scripts/prepare-exec.sh: lab kernel on a PVM
# host, stock kernel elsewhere); ROOTFS: its root filesystem image.
# Prints PASS/FAIL lines and "N passed, N failed, N skipped".
set -uo pipefail
build=${1:?usage: exec_vm.sh BUILD_DIR GUEST_DIR ROOTFS}
guest=${2:?usage: exec_vm.sh BUILD_DIR GUEST_DIR ROOTFS}
rootfs=${3:?usage: exec_vm.sh BUILD_DIR GUEST_DIR ROOTFS}
bh=$build/bulkhead
driver=$build/tests/e2e/exec_driver
pass=0 fail=0 skip=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

work=$(mktemp -d "${TMPDIR:-/tmp}/exec-vm-test.XXXXXX")
export TMPDIR=$work/tmp # the VMs' private directories land here: checked empty at the end
mkdir -p "$TMPDIR" "$work/out"
trap 'rm -rf "$work"' EXIT
secret=bulkhead-host-secret-$RANDOM$RANDOM
echo "$secret" >"$work/host-secret"
mkdir -p "$work/in/sub"
echo "copied in" >"$work/in/sub/file"
cpus=1

# ---- one VM, many hostile programs ----
script=$work/script
T=$'\t'
{
	echo "run${T}whoami${T}60000${T}1048576${T}id -u; id -g; cat /proc/self/status | grep -i capeff"
	echo "run${T}status3${T}60000${T}1048576${T}echo to-out; echo to-err >&2; exit 3"
	echo "run${T}killed${T}60000${T}1048576${T}kill -TERM \$\$"
	echo "run${T}notfound${T}60000${T}1048576${T}exec /no/such/program"
	echo "run${T}hostfiles${T}60000${T}1048576${T}test ! -e '$work/host-secret' && ! grep -rqs '$secret' /etc /tmp /home /root /proc/cmdline && echo no-host-files"
	echo "run${T}agentfd${T}60000${T}1048576${T}ls /proc/1/fd 2>&1; for p in /proc/[0-9]*; do ls \$p/fd >/dev/null 2>&1 && [ \"\$(stat -c %u \$p)\" = 0 ] && echo reached-root-fd \$p; done; echo done"
	echo "run${T}clock${T}60000${T}1048576${T}date +%s"
	echo "run${T}net${T}60000${T}1048576${T}sed -n '3,\$s/:.*//p' /proc/net/dev | tr -d ' '; python3 -c 'import socket; socket.create_connection((\"10.0.2.2\", 80), timeout=5)'"
	echo "run${T}vsockhost${T}60000${T}1048576${T}python3 -c 'import socket; s=socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); s.settimeout(15); s.connect((2, 1234))'"
	echo "run${T}vsockagent${T}60000${T}1048576${T}python3 -c 'import socket; s=socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); s.settimeout(15); s.connect((1, 1024))'"
	echo "run${T}forkbomb${T}120000${T}1048576${T}timeout -s KILL 10 bash -c ':(){ :|:& };:' ; echo survived"
	echo "run${T}oom${T}120000${T}1048576${T}python3 -c 'a=[]
while True: a.append(bytearray(1 << 20))'"
	echo "run${T}spin${T}120000${T}1048576${T}for i in \$(seq $cpus); do (while :; do :; done) & done; sleep 5; echo spun"
	echo "run${T}flood${T}120000${T}100000${T}head -c 5000000 /dev/zero"
	echo "copyin${T}$work/in${T}/tmp/in"
	echo "run${T}copied${T}60000${T}1048576${T}cat /tmp/in/sub/file; ln -s /etc /tmp/etc-link; mkdir /tmp/res; echo result > /tmp/res/r; ln -s /etc/passwd /tmp/res/pw; mkfifo /tmp/res/fifo"
	echo "copyout${T}/tmp/etc-link${T}$work/etc-back"
	echo "copyout${T}/tmp/res${T}$work/res-back"
	echo "run${T}alive${T}60000${T}1048576${T}echo still-alive"
} >"$script"
t0=$(date +%s)
"$driver" "$bh" "$guest" "$rootfs" "$work/out" "$cpus" 512 <"$script" >"$work/driver.log" 2>&1
drv_rc=$?
echo "exec_driver: exit $drv_rc after $(($(date +%s) - t0)) s"
sed 's/^/  | /' "$work/driver.log"
res() { grep -m1 "^$1 " "$work/driver.log"; }
has() { res "$1" | grep -q -- "$2"; }
out() { cat "$work/out/$1.out" 2>/dev/null; }
check "boot: the exec VM booted and its agent answered" grep -q '^booted' "$work/driver.log"
check "the program runs as the unprivileged user 1000:1000 without capabilities" \
	bash -c '[ "$(sed -n 1,2p '"$work/out/whoami.out"' | tr "\n" " ")" = "1000 1000 " ] && grep -q "0000000000000000" '"$work/out/whoami.out"
check "exit status 3 is the program's own; stdout and stderr kept apart" \
	bash -c 'grep -q "code=3 " <<<"$1" && [ "$(cat '"$work/out/status3.out"')" = to-out ] && [ "$(cat '"$work/out/status3.err"')" = to-err ]' _ "$(res status3)"
check "a program killed by SIGTERM is reported as signal 15" has killed "outcome=signaled code=15"
check "a program that does not exist: not-found (127)" has notfound "outcome=exited code=127"
check "reads host files: nothing of the host is visible in the guest" \
	bash -c '[ "$(cat '"$work/out/hostfiles.out"')" = no-host-files ]'
check "the program cannot reach the agent's or init's descriptors" \
	bash -c '! grep -q reached-root-fd '"$work/out/agentfd.out"' && grep -q done '"$work/out/agentfd.out"
check "the guest clock was stepped to the host's (within 120 s)" \
	bash -c 'g=$(cat '"$work/out/clock.out"'); h=$(date +%s); [ -n "$g" ] && [ $((h - g)) -lt 120 ] && [ $((g - h)) -lt 120 ]'
check "--net none: only lo, no route anywhere (the connect fails)" \
	bash -c 'grep -q "code=1 " <<<"$1" && [ "$(head -n1 '"$work/out/net.out"')" = lo ] && [ "$(wc -l <'"$work/out/net.out"')" -eq 1 ]' _ "$(res net)"
check "vsock to a host port not allowed: refused" \
	bash -c 'grep -q "code=1 " <<<"$1" && grep -Eq "Connection (reset|refused)|timed out|TimeoutError" '"$work/out/vsockhost.err"'' _ "$(res vsockhost)"
check "vsock to the agent's port from inside: refused (one host connection only)" \
	bash -c 'grep -q "code=1 " <<<"$1"' _ "$(res vsockagent)"
check "fork bomb: contained (pids cap), the shell survived" \
	bash -c 'grep -q "outcome=exited code=0 " <<<"$1" && grep -q survived '"$work/out/forkbomb.out"'' _ "$(res forkbomb)"
check "unbounded allocation: the guest OOM-killed it and the host reports it (oom>=1, SIGKILL)" \
	bash -c 'grep -Eq "outcome=signaled code=9 oom=[1-9]" <<<"$1"' _ "$(res oom)"
check "spins every vCPU: the agent still relayed it, the host is fine" \
	bash -c 'grep -q "outcome=exited code=0 " <<<"$1" && grep -q spun '"$work/out/spin.out"'' _ "$(res spin)"
check "floods stdout: 100000 bytes passed on, the rest dropped and counted" \
	bash -c 'grep -q "out=100000 err=0 dropped=4900000 " <<<"$1" && [ "$(stat -c %s '"$work/out/flood.out"')" = 100000 ]' _ "$(res flood)"
check "--copy-in: the host tree arrived" bash -c '[ "$(head -n1 '"$work/out/copied.out"')" = "copied in" ]'
check "--copy-out of a symlink to /etc: refused, nothing written on the host" \
	bash -c 'grep "copy /tmp/etc-link " '"$work/driver.log"' | grep -q "rc=-[1-9].*symbolic link" && [ ! -e '"$work/etc-back"' ] && [ ! -L '"$work/etc-back"' ]'
check "--copy-out of a tree with a symlink and a FIFO: data copied, both skipped" \
	bash -c 'grep "copy /tmp/res " '"$work/driver.log"' | grep -q "rc=0 skipped=2" && [ "$(cat '"$work/res-back/r"')" = result ] && [ ! -e '"$work/res-back/pw"' ] && [ ! -e '"$work/res-back/fifo"' ]'
check "after all of that the guest and its agent still run programs" has alive "outcome=exited code=0 "
check "the driver's VM is gone: its private directory removed" \
	bash -c 'd=$(sed -n "s/^vmdir=//p" '"$work/driver.log"'); [ -n "$d" ] && [ ! -e "$d" ]'

# ---- the CLI: --timeout (a boot of its own: a timeout ends the VM) ----
t0=$(date +%s)
"$bh" exec --guest "$guest" --rootfs "$rootfs" --boot-timeout 30m --timeout 5s --json-status "$work/t.json" \
	-- sh -c 'echo started; sleep 600' >"$work/t.out" 2>"$work/t.err"
rc=$?
echo "bulkhead exec --timeout 5s: exit $rc after $(($(date +%s) - t0)) s"
sed 's/^/  | /' "$work/t.err" | tail -n 5
check "runs past --timeout: exit 124, reported timed out in --json-status" \
	bash -c '[ '"$rc"' = 124 ] && grep -q "\"timed_out\": true" '"$work/t.json"' && grep -q "\"exit_code\": 124" '"$work/t.json"' && grep -q started '"$work/t.out"
check "after the timeout every host-side trace is gone (private directory, VMM process)" \
	bash -c '[ -z "$(ls -A '"$TMPDIR"')" ] && ! pgrep -f -- '"$TMPDIR"' >/dev/null'

# ---- the CLI: options, exit status, --json-status, cleanup ----
t0=$(date +%s)
"$bh" exec --guest "$guest" --rootfs "$rootfs" --boot-timeout 30m --cpus 1 --mem 384M --env GREETING=hello \
	--workdir /tmp --copy-in "$work/in:/tmp/data" --copy-out "/tmp/made:$work/made" \
	--json-status "$work/s.json" -- \
	sh -c 'echo "$GREETING from $(pwd) as $(id -u) on $(nproc) cpus"; cat /tmp/data/sub/file; mkdir /tmp/made; echo out > /tmp/made/x; exit 7' \
	>"$work/c.out" 2>"$work/c.err"
rc=$?
echo "bulkhead exec (options): exit $rc after $(($(date +%s) - t0)) s"
sed 's/^/  | /' "$work/c.out" "$work/c.err" | tail -n 8
check "bulkhead exec exits with the program's own status (7)" test "$rc" = 7
check "--env, --workdir, --cpus and --copy-in reach the program" \
	bash -c '[ "$(head -n1 '"$work/c.out"')" = "hello from /tmp as 1000 on 1 cpus" ] && grep -q "copied in" '"$work/c.out"
check "--copy-out brought the result back" bash -c '[ "$(cat '"$work/made/x"' 2>/dev/null)" = out ]'
check "--json-status: exit_code 7, not timed out, not OOM, a duration" \
	bash -c 'j=$(cat '"$work/s.json"'); grep -q "\"exit_code\": 7," <<<"$j" && grep -q "\"timed_out\": false" <<<"$j" && grep -q "\"oom_killed\": false" <<<"$j" && grep -Eq "\"duration_ms\": [1-9]" <<<"$j"'
check "every host-side trace of the VMs is gone (no private directory left)" \
	bash -c '[ -z "$(ls -A '"$TMPDIR"')" ]'
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
