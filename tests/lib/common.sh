# shellcheck shell=sh
# common.sh — helpers the POSIX-sh test suites share (kvm_tests.sh,
# sandbox_tests.sh, daemon_kvm.sh). Sourced, never run. POSIX sh + busybox
# tools only: the suites also run inside the nested KVM host's initramfs,
# where tests/check.sh adds them in the tree's layout (/t/e2e/kvm_tests.sh,
# /t/sandbox/sandbox_tests.sh, this file as /t/lib/common.sh): a suite
# sources ../lib/common.sh from its own directory.
#
# Sets the counters pass, fail and skip to 0; each suite prints
# "N passed, N failed, N skipped" from them at its end.
# shellcheck disable=SC2034 # the suites read them
pass=0
fail=0
skip=0

# ok NAME / bad NAME WHY: count and print one result line.
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

# now_ms: a monotonic-ish clock in ms since boot (busybox date lacks %N on
# some builds).
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

# wait_bounded PID SECS WHAT: wait for the background job PID at most SECS
# seconds; past that, say so, TERM it, KILL it 5 s later, and return 124.
# Otherwise its exit status. (kill -0 is true for a zombie: read its state.)
wait_bounded() {
	_n=0
	while _st=$(sed -n 's/.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) &&
		[ -n "$_st" ] && [ "$_st" != Z ]; do
		if [ "$_n" -ge $(($2 * 10)) ]; then
			echo "TIMEOUT: $3 (pid $1) still running after $2 s: killing it"
			kill -TERM "$1" 2>/dev/null
			sleep 5
			kill -KILL "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			return 124
		fi
		sleep 0.1
		_n=$((_n + 1))
	done
	wait "$1"
}
