#!/usr/bin/env bash
# check.sh — everything `make check` runs, in order, with one summary line.
#   1. build (hardened release build + ASan/UBSan build)
#   2. unit tests under ASan+UBSan (meson test)
#   3. CLI/bad-input tests against the ASan build (no KVM needed), the
#      configuration schema against api/openapi.yaml and the docs, the
#      daemon's API tests over its real socket (ASan build, no KVM needed),
#      and the daemon against hostile stand-in VMMs and greedy users
#   4. sandbox tests: the VM process's jail and seccomp filters per thread kind
#      (tests/sandbox/sandbox_tests.sh; again with real VMs in the KVM stage);
#      the switch process driven over plain socketpairs (tests/e2e/switch_tests.py)
#   5. fuzz smoke: each libFuzzer target briefly on its committed corpus
#   6. packaging: make install into a DESTDIR, man pages, completion, the
#      Debian package (lintian), installed, socket-activated and purged in a
#      throwaway root (tests/pkg/pkg_tests.sh)
#   7. KVM tests: freestanding test guests + real-Linux boots, suite by suite
#      where each runs faithfully on this kind of host (tests/e2e/kvmhost/env.sh:
#      hardware KVM natively; a PVM-backed /dev/kvm natively only what PVM can
#      run; otherwise inside a nested KVM host: QEMU TCG emulating SVM, Debian's
#      cloud kernel + its kvm modules: real KVM, just slower). Every skip says
#      why. BULKHEAD_HOST_KIND=hardware|pvm|none forces a kind's decisions.
# Ends with "N passed, N failed, N skipped" alone on the last line; exits
# non-zero if anything failed. How it cannot pass by accident:
#   - every runner runs under `timeout -k`, and its exit status must agree
#     with its summary line (a runner that dies, hangs or exits non-zero with
#     "0 failed" is a failure); meson's Timeout and Unexpected Pass count as
#     failures;
#   - every stage has a minimum number of tests (MIN_* below): a stage that
#     silently runs fewer is a failure;
#   - skips are counted and each is printed with its reason ("SKIP name:
#     reason" lines of the runners, cmocka skips from meson's test log);
#   - a nested suite is retried only after a proven L1 freeze (run.sh exit
#     124: not even the L1's heartbeat came), failures printed before the
#     freeze still count, every attempt's log is kept under $LOGDIR, and the
#     summary says how many retries there were.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
CACHE=${BULKHEAD_CACHE:-$ROOT/.cache}
# Every stage's (and every nested attempt's) log is kept here.
LOGDIR=${BULKHEAD_CHECK_LOGS:-$ROOT/build/check-logs}
PASSED=0
FAILED=0
SKIPPED=0
RETRIED=0
FAILED_NAMES=()
SKIP_REASONS=()
STAGE_MODES=()

# Minimum number of tests per stage (passed + failed; skips do not count):
# what the stage ran when this was written. Raise them when adding tests.
MIN_UNIT=46
MIN_CLI=163
MIN_API=156
MIN_SANDBOX_HOST=27
MIN_FUZZ=10 # the clang build + one per corpus (agent api blk boot frame snap state virtq vsock)
MIN_SWITCH=100 # 106 with KVM (6 bulkhead-run cases); 15 passt and 9 tap uplink cases need root (+ passt)
MIN_PKG=38
MIN_SCHEMA=10
MIN_DAEMON_HOSTILE=124
MIN_DAEMON_EXEC=24
MIN_GUEST_CACHE=3
MIN_QEMU=38
MIN_KVM_EXTRA=10 # kvm_tests.sh: one per cases.txt line plus this many
MIN_VIRTIO_LINUX=9 # net-uplink needs passt (scripts/deps.sh installs it)
MIN_SANDBOX_KVM=57
MIN_DAEMON_KVM=44
MIN_EXEC=50 # 44 + 6 with bulkheadd (exec --vm)
MIN_ASAN_HOSTILE=38 # the virtio_hostile and virtio_balloon cases + 2 console-input tests

# BULKHEAD_CHECK_STAGES (development only): a comma list of the stages to
# run (unit,cli,api,sandbox,net,fuzz,qemu,pkg,kvm), where kvm:SUITE runs one KVM
# suite (its name in lower case, blanks as '-', e.g. kvm:kvm-tests); the
# build always runs. `make check` never sets it, and a partial run says so
# above its summary line.
STAGES=${BULKHEAD_CHECK_STAGES:-all}
want() { [ "$STAGES" = all ] || case ",$STAGES," in *",$1,"* | *",$1:"*) true ;; *) false ;; esac; }
want_suite() { # want_suite NAME: a KVM suite
	[ "$STAGES" = all ] || case ",$STAGES," in *",kvm,"* | *",kvm:$(slug "$1"),"*) true ;; *) false ;; esac
}

# each stage's header says when it began (since check.sh started)
stage() { printf '\n=== %s === (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }
count() { # count NAME RC
	if [ "$2" -eq 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); fi
}
skipped() { # skipped NAME REASON
	SKIPPED=$((SKIPPED + 1))
	SKIP_REASONS+=("$1: $2")
}
slug() { echo "$1" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9]\{1,\}/-/g; s/^-//; s/-$//'; }
# add_counts NAME FILE RC MIN: take the last "N passed, N failed[, N skipped]"
# line a runner printed, its "SKIP <what>: <why>" lines, and check its exit
# status RC against that line and the number of tests against MIN.
add_counts() {
	local name=$1 file=$2 rc=$3 min=$4 line p f s=0 n
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$file" | tail -n 1)
	if [ -z "$line" ]; then
		count "$name (no summary line; exit $rc; log $file)" 1
		return
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	case "$line" in *", "*" skipped"*) s=${line##*failed, }; s=${s%% skipped*} ;; esac
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	[ "$f" -eq 0 ] || FAILED_NAMES+=("$name ($f)")
	n=0
	while IFS= read -r why; do
		skipped "$name" "${why#SKIP }"
		n=$((n + 1))
	done < <(grep -a '^SKIP ' "$file")
	[ "$n" -ge "$s" ] || { SKIPPED=$((SKIPPED + s - n)); SKIP_REASONS+=("$name: $((s - n)) without a reason"); }
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		count "$name: exit status $rc although its summary says 0 failed" 1
	elif [ "$rc" -eq 0 ] && [ "$f" -ne 0 ]; then
		count "$name: exit status 0 although $f failed" 1
	fi
	[ $((p + f)) -ge "$min" ] ||
		count "$name: only $((p + f)) tests ran, at least $min expected" 1
}
# run_suite NAME MIN SECS CMD...: run a runner under `timeout -k` with its
# output shown and kept in $LOGDIR/NAME.log, then add_counts.
run_suite() {
	local name=$1 min=$2 secs=$3 log rc
	shift 3
	log="$LOGDIR/$(slug "$name").log"
	timeout -k 10 "$secs" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || echo "$name: TIMEOUT: still running after ${secs}s (killed)"
	add_counts "$name" "$log" "$rc" "$min"
}
# meson_counts LOG TESTLOG RC: meson's own summary. Timeouts and unexpected
# passes are failures; cmocka skip()s (invisible to meson: the executable
# still exits 0) are found in the test log, with the reason the test printed
# ("# SKIP: why") just before.
meson_counts() {
	local log=$1 testlog=$2 rc=$3 k ok=0 bad=0 n=0 listed why
	for k in Ok Fail Timeout 'Unexpected Pass' Skipped 'Expected Fail'; do
		n=$(sed -n "s/^$k:[[:space:]]*\([0-9]*\).*/\1/p" "$log" | tail -n 1)
		n=${n:-0}
		case "$k" in
		Ok | 'Expected Fail') ok=$((ok + n)) ;;
		Skipped)
			for ((i = 0; i < n; i++)); do
				why=$(awk '$0 ~ / SKIP / { for (j = 1; j <= NF; j++) if ($j == "/") print $(j + 1) }' "$log" |
					sort -u | sed -n "$((i + 1))p")
				skipped "unit tests" "${why:-a test} exited 77 (meson: skipped; its reason is in build-san/meson-logs/testlog.txt)"
			done
			;;
		*) bad=$((bad + n)); [ "$n" -eq 0 ] || FAILED_NAMES+=("unit tests: $n $k") ;;
		esac
	done
	PASSED=$((PASSED + ok))
	FAILED=$((FAILED + bad))
	if [ -f "$testlog" ]; then
		while IFS= read -r why; do
			skipped "unit tests" "$why"
		# cmocka prints "[  SKIPPED ] test" when a test skips and again in
		# its closing list (after "[  SKIPPED ] N test(s), listed below:"):
		# count the first only. The test prints its reason ("SKIP: why" or
		# "# SKIP: why") just before.
		done < <(awk '/^(# )?SKIP: / { why = $0; sub(/^(# )?SKIP: /, "", why) }
			/^\[ RUN / { inlist = 0 }
			/^\[  SKIPPED \] [0-9]+ test\(s\), listed below/ { inlist = 1; next }
			/^\[  SKIPPED \] / && !inlist { print $4 ": " (why ? why : "no reason printed"); why = "" }' "$testlog")
	fi
	[ "$rc" -eq 0 ] || [ "$bad" -ne 0 ] || count "unit tests: meson test exit status $rc with no failure counted" 1
	listed=$(meson test -C build-san --list 2>/dev/null | grep -c ' / ')
	[ $((ok + bad)) -ge "$listed" ] || count "unit tests: $((ok + bad)) results for $listed tests" 1
	[ $((ok + bad)) -ge "$MIN_UNIT" ] || count "unit tests: only $((ok + bad)) ran, at least $MIN_UNIT expected" 1
}

stage "build"
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null || exit 1
[ -f build-san/build.ninja ] || meson setup build-san --buildtype=debug \
	-Db_sanitize=address,undefined -Db_lundef=false -Dhardening=false >/dev/null || exit 1
ninja -C build || exit 1
ninja -C build-san || exit 1
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR" || exit 1
echo "logs: $LOGDIR"

# The stock-kernel guest (Debian's cloud kernel, unmodified) on every kind of
# host: the real-kernel unit test loads its kernel, the KVM suites boot it.
GUEST_OK=1
scripts/prepare-guest.sh --stock "$CACHE" >/dev/null || { count "prepare the stock-kernel guest" 1; GUEST_OK=0; }

if want unit; then
	stage "unit tests (ASan+UBSan)"
	LOG="$LOGDIR/unit.log"
	BULKHEAD_REAL_KERNEL="$CACHE/guests/stock/kernel" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		timeout -k 10 1800 meson test -C build-san --print-errorlogs 2>&1 | tee "$LOG"
	meson_counts "$LOG" build-san/meson-logs/testlog.txt "${PIPESTATUS[0]}"
fi

if want cli; then
	stage "CLI and bad-input tests (ASan build)"
	run_suite "cli_errors" "$MIN_CLI" 600 tests/e2e/cli_errors.sh build-san/bulkhead build-san/tests/guest
fi

if want api; then
	stage "configuration schema vs openapi.yaml and the docs (ASan build)"
	run_suite "config_schema" "$MIN_SCHEMA" 600 \
		tests/e2e/config_schema.py build-san/bulkhead build-san/bulkheadd .

	stage "daemon API tests (ASan build)"
	run_suite "daemon_api" "$MIN_API" 900 \
		tests/e2e/daemon_api.sh build-san/bulkhead build-san/bulkheadd build-san/tests/guest

	stage "daemon against hostile VMMs and greedy users (ASan build, stand-in VMMs)"
	# Deadlines, per-VM cgroups made by the daemon, quarantine by the freezer,
	# fair shares, no leaks: tests/e2e/daemon_hostile.py (root: cgroups, uids).
	run_suite "daemon_hostile" "$MIN_DAEMON_HOSTILE" 900 python3 tests/e2e/daemon_hostile.py \
		build-san/bulkheadd tests/e2e/standin_vmm.py build-san/bulkhead

	stage "exec sessions through the daemon (ASan build, stand-in VMM, the real guest agent)"
	# POST /v1/vms/{id}/exec and `bulkhead exec --vm`: the daemon's checks
	# and relay, the agent on the host in the guest's place (root: jobs run
	# as uid 1000): tests/e2e/daemon_exec.py.
	run_suite "daemon_exec" "$MIN_DAEMON_EXEC" 600 python3 tests/e2e/daemon_exec.py \
		build-san/bulkheadd tests/e2e/standin_vmm.py build-san/bulkhead \
		build-san/guest/agent/bulkhead-agent
fi

if want sandbox; then
	stage "sandbox tests (jail + seccomp per thread kind; no KVM needed)"
	run_suite "sandbox" "$MIN_SANDBOX_HOST" 600 tests/sandbox/sandbox_tests.sh build/tests/sandbox/sb_probe
fi

if want net; then
	stage "the switch as a process: ports, segments, port security, rates, egress (no KVM needed)"
	run_suite "switch" "$MIN_SWITCH" 600 python3 tests/e2e/switch_tests.py build/bulkhead
fi

if want fuzz; then
	stage "fuzz smoke"
	run_suite "fuzz smoke" "$MIN_FUZZ" 1800 tests/fuzz/smoke.sh build-fuzz
fi

if ! want qemu; then
	:
elif stage "virtio test guests under QEMU TCG (docs/virtio.md cross-check)" &&
	# bulkhead runs the same cases (all of them) in the KVM tests below; here
	# the cases where QEMU 7.2 deviates run as expected failures.
	command -v qemu-system-x86_64 >/dev/null; then
	run_suite "virtio guests under QEMU" "$MIN_QEMU" 1800 \
		tests/guest/run-qemu.py --builddir build virtio_blk virtio_hostile virtio_balloon
else
	echo "qemu-system-x86_64 missing (scripts/deps.sh check installs it)"
	count "virtio guests under QEMU: no QEMU" 1
fi

if want pkg; then
	stage "packaging (install tree, man pages, completion, Debian package, socket activation)"
	run_suite "packaging" "$MIN_PKG" 900 tests/pkg/pkg_tests.sh build
fi

# (the KVM stage is not indented under this `if`: it keeps its diff small)
if want kvm; then
stage "KVM tests"
# Each suite runs where it runs faithfully on this kind of host (env.sh:
# suite_mode): natively, in the nested KVM host, or skipped with the reason.
# BULKHEAD_HOST_KIND=hardware|pvm|none forces a kind's decisions.
# shellcheck source=tests/e2e/kvmhost/env.sh
. tests/e2e/kvmhost/env.sh
KIND=$(host_kind) || KIND=none
echo "host kind: $KIND${BULKHEAD_HOST_KIND:+ (forced by BULKHEAD_HOST_KIND)}; KVM: $(kvm_available)"
# The stock-kernel guest (prepared above, before the unit tests).
STOCK=$CACHE/guests/stock
# --guest default: a content-addressed copy in the user's cache (issue 19).
if [ "$GUEST_OK" = 1 ]; then
	run_suite "default guest in the user's cache" "$MIN_GUEST_CACHE" 600 \
		tests/e2e/guest_cache.sh build/bulkhead "$CACHE"
fi
# An ext4 image made on the host (no root needed) for the real-Linux disk test.
FSTEXT="hello-from-the-host-$$"
FSDIR=$(mktemp -d)
FSIMG=$(mktemp -u /tmp/bulkhead-fs.XXXXXX.img)
# The daemon's lifecycle tests boot the stock kernel once with an init that
# waits forever (the graceful-stop test): build that initramfs here.
WAITRD=$(mktemp -d)
trap 'rm -f "$FSIMG"; rm -rf "$FSDIR" "$WAITRD" ${NETMODS:+"$NETMODS"} ${EXECDIR:+"$EXECDIR"}' EXIT
echo "$FSTEXT" > "$FSDIR/hello.txt"
/sbin/mkfs.ext4 -q -F -d "$FSDIR" "$FSIMG" 16M || { count "mkfs.ext4 -d" 1; GUEST_OK=0; }
# Must exist on every supported host: without it the Ctrl-Alt-Del test fails.
scripts/mk-initramfs.sh "$WAITRD/wait.cpio" --busybox --init tests/e2e/wait-init.sh \
	>"$LOGDIR/wait-initramfs.log" 2>&1 ||
	count "daemon tests: cannot build the waiting initramfs (see $LOGDIR/wait-initramfs.log)" 1
NCASES=$(grep -cvE '^[[:space:]]*(#|$)' tests/guest/cases.txt)
MIN_KVM=$((NCASES + MIN_KVM_EXTRA))

# nested_suite NAME MIN --add... -- SCRIPT ARGS...: one suite in its own L1
# boot. The L1 is QEMU TCG emulating SVM; with 2 L1 vCPUs it froze outright
# (no output, no guest-side watchdog) in 3 of 17 runs here, with 1 vCPU (the
# default now) in none of 15. The L1 prints a heartbeat every 5 s, so 90 s
# without any console output proves a frozen L1 (run.sh exit 124): only that
# is retried, up to twice, each time in a fresh L1. A test that hangs inside
# a live L1 ends in the L1's own watchdog (exit 123): a failure, never
# retried. Every attempt's log is kept, and FAIL lines printed before a
# freeze count.
nested_suite() {
	local name=$1 min=$2 attempt rc log early=0 n
	shift 2
	for attempt in 1 2 3; do
		log="$LOGDIR/$(slug "$name").attempt$attempt.log"
		tests/e2e/kvmhost/run.sh --timeout 600 --idle-timeout 90 --mem 3072 --cpus 1 \
			"$@" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		[ "$rc" -eq 124 ] && [ "$attempt" -lt 3 ] || break
		n=$(grep -ac '^FAIL ' "$log")
		early=$((early + n))
		RETRIED=$((RETRIED + 1))
		echo "$name: the L1 froze (attempt $attempt, $n failure(s) before it; log kept: $log); retrying in a fresh L1"
	done
	add_counts "$name (nested)" "$log" "$rc" "$min"
	if [ "$early" -gt 0 ]; then
		FAILED=$((FAILED + early))
		FAILED_NAMES+=("$name (nested): $early failure(s) in attempts that ended in an L1 freeze")
	fi
}

# kvm_suite NAME ID MIN: run suite ID as suite_mode decides, with the command
# in the array RUN (host paths) and the nested host's --add list in ADDS (the
# guest side sees each file at its /t/... path; RUN_NESTED is the command
# there). A skip prints its reason and counts as a failure: make check
# never passes without its KVM tests.
kvm_suite() {
	local name=$1 id=$2 min=$3 mode
	want_suite "$name" || return 0
	mode=$(suite_mode "$id")
	echo "--- $name: ${mode}"
	case "$mode" in
	native:*)
		STAGE_MODES+=("$name=native")
		run_suite "$name" "$min" 1800 "${RUN[@]}"
		;;
	nested:*)
		STAGE_MODES+=("$name=nested")
		nested_suite "$name" "$min" "${ADDS[@]}" -- "${RUN_NESTED[@]}"
		;;
	*)
		STAGE_MODES+=("$name=skipped")
		echo "SKIP $name: ${mode#skip: }"
		count "$name: skipped (${mode#skip: })" 1
		;;
	esac
}

# One function per KVM suite: the command in RUN (host paths), the nested
# host's --add list in ADDS (the guest side sees each file at its /t/...
# path; RUN_NESTED is the command there), then kvm_suite.
suite_kvm_tests() {
	RUN=(tests/e2e/kvm_tests.sh build/bulkhead build/tests/guest tests/guest/cases.txt "$STOCK")
	ADDS=(--add "build/bulkhead:/t/bulkhead" --add "build/tests/guest:/t/guests"
		--add "tests/guest/cases.txt:/t/cases.txt" --add "tests/e2e/kvm_tests.sh:/t/e2e/kvm_tests.sh"
		--add "tests/lib/common.sh:/t/lib/common.sh"
		--add "build/tests/e2e/netpair:/t/e2e/netpair" --add "$STOCK:/t/guest")
	RUN_NESTED=(/t/e2e/kvm_tests.sh /t/bulkhead /t/guests /t/cases.txt /t/guest)
	kvm_suite "kvm tests" kvm "$MIN_KVM"
}

suite_virtio_linux() {
	RUN=(tests/e2e/virtio_linux.sh build/bulkhead "$STOCK" "$FSIMG" "$FSTEXT" "" "$NETMODS")
	ADDS=(--add "build/bulkhead:/t/bulkhead" --add "$STOCK:/t/guest" --add "$FSIMG:/t/fs.img"
		--add "tests/e2e/virtio_linux.sh:/t/virtio_linux.sh" --add "$NETMODS:/t/netmods")
	# the uplink test's passt (as root it changes to the user nobody: the
	# L1 gets a passwd naming it)
	PASST=$(command -v passt || { [ -x /usr/bin/passt ] && echo /usr/bin/passt; })
	if [ -n "$PASST" ]; then
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
			>"$WAITRD/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$WAITRD/group"
		ADDS+=(--add "$PASST:/usr/bin/passt" --add "$WAITRD/passwd:/etc/passwd"
			--add "$WAITRD/group:/etc/group")
	fi
	RUN_NESTED=(/t/virtio_linux.sh /t/bulkhead /t/guest /t/fs.img "$FSTEXT" "" /t/netmods)
	kvm_suite "virtio linux" virtio-linux "$MIN_VIRTIO_LINUX"
}

# `bulkhead exec` end to end (tests/e2e/exec_suite.sh): the exec guest on
# the stock kernel (agent, vsock/EROFS/overlay modules) and the busybox
# root filesystem, a real userland that boots in ~20 s nested (the
# default Debian one is what users and `make demo` get).
suite_exec() {
	want_suite "exec tests" || return 0
	if scripts/prepare-exec.sh build "$CACHE" --stock-guest >"$LOGDIR/exec-guest.log" 2>&1 &&
		scripts/mk-exec-rootfs-busybox.sh "$EXECDIR/rootfs.erofs" >>"$LOGDIR/exec-guest.log" 2>&1; then
		RUN=(tests/e2e/exec_suite.sh build/bulkhead build/tests/e2e/exec_driver
			"$CACHE/guests/exec-stock" "$EXECDIR/rootfs.erofs" build/bulkheadd)
		ADDS=(${CURL:+--add "$CURL:$CURL"} --add "build/bulkhead:/t/bulkhead"
			--add "build/bulkheadd:/t/bulkheadd" --add "build/tests/e2e/exec_driver:/t/exec_driver"
			--add "build/tests/e2e/ptyrun:/t/ptyrun" --add "build/tests/e2e/vsock_probe:/t/vsock_probe"
			--add "$CACHE/guests/exec-stock:/t/exec-guest" --add "$EXECDIR/rootfs.erofs:/t/rootfs.erofs"
			--add "tests/e2e/exec_suite.sh:/t/exec_suite.sh")
		RUN_NESTED=(/t/exec_suite.sh /t/bulkhead /t/exec_driver /t/exec-guest /t/rootfs.erofs
			/t/bulkheadd)
		kvm_suite "exec tests" exec "$MIN_EXEC"
	else
		count "exec tests: cannot prepare the exec guest or its root filesystem (see $LOGDIR/exec-guest.log)" 1
	fi
}

# Nested: the sandbox under the L1's pure cgroup v2, its Debian kernel
# (other Landlock ABI), an initramfs root, and real VMs.
suite_sandbox() {
	RUN=(tests/sandbox/sandbox_tests.sh build/tests/sandbox/sb_probe build/bulkhead build/tests/guest)
	ADDS=(--add "build/bulkhead:/t/bulkhead" --add "build/tests/sandbox/sb_probe:/t/sb_probe"
		--add "build/tests/sandbox/ctl_probe:/t/ctl_probe"
		--add "build/tests/guest:/t/guests" --add "tests/sandbox/sandbox_tests.sh:/t/sandbox/sandbox_tests.sh"
		--add "tests/lib/common.sh:/t/lib/common.sh")
	RUN_NESTED=(/t/sandbox/sandbox_tests.sh /t/sb_probe /t/bulkhead /t/guests)
	kvm_suite "sandbox tests (KVM)" sandbox "$MIN_SANDBOX_KVM"
}

# The daemon with real VMs, once, under ASan+UBSan (bulkheadd, the CLI and
# the VMMs it starts; their seccomp policy is the release one plus what the
# sanitizer runtime needs, docs/security.md): sanitizer reports fail. The
# release bulkheadd meets real VMs in the exec suite (exec --vm) and its
# socket activation in the packaging stage.
suite_daemon() {
	RUN=(tests/e2e/daemon_kvm.sh build-san/bulkhead build-san/bulkheadd build/tests/guest
		"$STOCK/kernel" "$WAITRD/wait.cpio")
	ADDS=(${CURL:+--add "$CURL:$CURL"} --add "build-san/bulkhead:/t/bulkhead"
		--add "build-san/bulkheadd:/t/bulkheadd" --add "build/tests/guest:/t/guests"
		--add "tests/e2e/daemon_kvm.sh:/t/e2e/daemon_kvm.sh" --add "$STOCK/kernel:/t/lx/kernel"
		--add "$WAITRD/wait.cpio:/t/lx/initrd" --add "tests/lib/common.sh:/t/lib/common.sh")
	RUN_NESTED=(/t/e2e/daemon_kvm.sh /t/bulkhead /t/bulkheadd /t/guests /t/lx/kernel /t/lx/initrd)
	kvm_suite "daemon kvm tests" daemon "$MIN_DAEMON_KVM"
}

# The VMM under ASan+UBSan against the hostile guests and console input.
suite_asan_hostile() {
	RUN=(tests/e2e/kvm_tests.sh build-san/bulkhead build/tests/guest tests/guest/cases.txt "$STOCK"
		"virtio_hostile,virtio_balloon")
	ADDS=(--add "build-san/bulkhead:/t/bulkhead" --add "build/tests/guest:/t/guests"
		--add "tests/guest/cases.txt:/t/cases.txt" --add "tests/e2e/kvm_tests.sh:/t/e2e/kvm_tests.sh"
		--add "tests/lib/common.sh:/t/lib/common.sh")
	RUN_NESTED=(/t/e2e/kvm_tests.sh /t/bulkhead /t/guests /t/cases.txt /t/none "virtio_hostile,virtio_balloon")
	kvm_suite "ASan: hostile virtio + console" kvm "$MIN_ASAN_HOSTILE"
}

# Two lanes. Each nested suite keeps one host core busy with its L1 (QEMU
# TCG, one vCPU), so where every suite runs nested and the machine has two
# cores and the memory for two L1s, lane B runs beside lane A in the
# background: its output goes to $LOGDIR/lane-b.out and is shown after lane
# A's, its counts are added then. Anywhere else, or with
# BULKHEAD_CHECK_LANES=1, the suites run one after another (a native suite
# may want every core and timing of its own). BULKHEAD_CHECK_LANES=2
# forces two lanes.
lane_a() { suite_kvm_tests; suite_exec; suite_sandbox; suite_asan_hostile; }
lane_b() { suite_virtio_linux; suite_daemon; }
lanes() {
	local s mem
	case "${BULKHEAD_CHECK_LANES:-}" in 1) echo 1; return ;; 2) echo 2; return ;; esac
	for s in kvm virtio-linux exec sandbox daemon; do
		case "$(suite_mode "$s")" in nested:*) ;; *) echo 1; return ;; esac
	done
	mem=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
	[ "$(nproc)" -ge 2 ] && [ "${mem:-0}" -ge 8192 ] && echo 2 || echo 1
}
# lane_save FILE / lane_add FILE: a lane's counts across the subshell border.
lane_save() {
	echo "$PASSED $FAILED $SKIPPED $RETRIED" >"$1.counts"
	{ [ ${#FAILED_NAMES[@]} -eq 0 ] || printf '%s\n' "${FAILED_NAMES[@]}"; } >"$1.failed"
	{ [ ${#SKIP_REASONS[@]} -eq 0 ] || printf '%s\n' "${SKIP_REASONS[@]}"; } >"$1.skipped"
	{ [ ${#STAGE_MODES[@]} -eq 0 ] || printf '%s\n' "${STAGE_MODES[@]}"; } >"$1.modes"
}
lane_add() {
	local p f s r line
	if ! read -r p f s r <"$1.counts" 2>/dev/null; then
		count "KVM lane B: it ended without its counts (see $1)" 1
		return
	fi
	PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s)); RETRIED=$((RETRIED + r))
	while IFS= read -r line; do FAILED_NAMES+=("$line"); done <"$1.failed"
	while IFS= read -r line; do SKIP_REASONS+=("$line"); done <"$1.skipped"
	while IFS= read -r line; do STAGE_MODES+=("$line"); done <"$1.modes"
}

if [ "$GUEST_OK" = 1 ]; then
	# The stock kernel's virtio_net (and what it depends on) and virtio_balloon,
	# for the net and balloon tests
	# (the default guest's initramfs ships the disk/console/rng drivers only).
	NETMODS=$(mktemp -d)
	MODDIR=$(scripts/guest-kernel.sh --stock --modules "$CACHE") &&
		cp "$MODDIR/kernel/net/core/failover.ko" "$MODDIR/kernel/drivers/net/net_failover.ko" \
			"$MODDIR/kernel/drivers/net/virtio_net.ko" \
			"$MODDIR/kernel/drivers/virtio/virtio_balloon.ko" "$NETMODS/" ||
		echo "check.sh: the stock kernel's virtio_net or virtio_balloon module is missing: linux/virtio-net-tap or linux/virtio-balloon will fail"
	EXECDIR=$(mktemp -d)
	# The CLI's daemon commands dlopen() libcurl (so `bulkhead run` does not
	# load it): the nested host gets it, with its libraries.
	CURL=$(ldconfig -p | sed -n 's/.*libcurl\.so\.4 (libc6,x86-64) => //p' | head -n 1)
	if [ "$(lanes)" = 2 ]; then
		LANE_B=$LOGDIR/lane-b
		echo "--- two lanes: lane B (virtio linux, daemon kvm tests) runs beside lane A in the background; its output follows lane A's"
		(
			PASSED=0 FAILED=0 SKIPPED=0 RETRIED=0
			FAILED_NAMES=() SKIP_REASONS=() STAGE_MODES=()
			lane_b
			lane_save "$LANE_B"
		) >"$LANE_B.out" 2>&1 &
		LANE_B_PID=$!
		lane_a
		echo
		echo "--- lane B (ran beside the above; $LANE_B.out)"
		tail -n +1 -f --pid="$LANE_B_PID" "$LANE_B.out"
		wait "$LANE_B_PID"
		lane_add "$LANE_B"
	else
		lane_a
		lane_b
	fi
else
	echo "KVM tests: cannot run: the stock-kernel guest or the disk image could not be made (above)"
	count "KVM tests: no stock-kernel guest or disk image" 1
fi
fi

echo
if [ ${#SKIP_REASONS[@]} -gt 0 ]; then
	printf 'skipped: %s\n' "${SKIP_REASONS[@]}"
fi
if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${FAILED_NAMES[@]}"
fi
[ "$STAGES" = all ] || echo "PARTIAL RUN: only the stages BULKHEAD_CHECK_STAGES=$STAGES (not a full make check)"
echo "KVM mode per suite: ${STAGE_MODES[*]:-(no KVM stage ran)}"
echo "took $((SECONDS / 60))m$((SECONDS % 60))s"
echo "retried $RETRIED (nested suites restarted after a proven L1 freeze; every attempt's log is in $LOGDIR)"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
