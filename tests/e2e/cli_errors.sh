#!/usr/bin/env bash
# cli_errors.sh — bad input to `bulkhead run` (hostile-guests.md cases 29, 30):
# every case must exit with the config-error code (2), print a message naming
# the bad input, and never crash (run against the ASan build: a sanitizer
# report fails the case). Needs no KVM: input is validated before KVM is used.
#   cli_errors.sh BULKHEAD GUEST_ELF_DIR
set -uo pipefail
BH=$1
ELF=$2/hello.elf
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

# expect CODE SUBSTRING -- ARGS...
expect() {
	local want=$1 sub=$2 what
	shift 3
	what=$(printf '%s ' "$@" | cut -c1-120)
	ASAN_OPTIONS=detect_leaks=1 timeout -k 5 30 "$BH" "$@" >"$T/out" 2>"$T/err" </dev/null
	local rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL [$what]: exit $rc, want $want"; sed 's/^/    /' "$T/err" | head -n 20
		fail=$((fail + 1)); return
	fi
	if grep -q -E 'AddressSanitizer|runtime error|LeakSanitizer' "$T/err"; then
		echo "FAIL [$what]: sanitizer report"; head -n 30 "$T/err"
		fail=$((fail + 1)); return
	fi
	if ! grep -qF -- "$sub" "$T/err" "$T/out"; then
		echo "FAIL [$what]: message lacks '$sub'"; sed 's/^/    /' "$T/err" | head -n 10
		fail=$((fail + 1)); return
	fi
	echo "PASS [$what] -> $(grep -h -m1 -F -- "$sub" "$T/err" "$T/out" | cut -c1-150)"
	pass=$((pass + 1))
}

# Crafted inputs.
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$T/notakernel"
: >"$T/empty"
head -c 4096 /dev/urandom >"$T/random"
mkdir "$T/dir"
# A bzImage-looking header that lies: "HdrS" magic, huge setup_sects.
python3 - "$T/liar" <<'PY'
import struct, sys
b = bytearray(8192)
b[0x1f1] = 200                                # setup_sects: 200*512 > file size
b[0x1fe:0x200] = struct.pack('<H', 0xAA55)
b[0x202:0x206] = b'HdrS'
b[0x206:0x208] = struct.pack('<H', 0x020f)
open(sys.argv[1], 'wb').write(b)
PY
head -c 3000 "$ELF" >"$T/truncated.elf"
python3 -c 'print("x" * 70000, end="")' >"$T/longcmd" # > the 64 KiB limit

expect 2 "usage: bulkhead" -- 
expect 2 "unknown command" -- frobnicate
expect 2 "unknown option '--bogus'" -- run --kernel "$ELF" --bogus
expect 2 "option --mem needs a value" -- run --kernel "$ELF" --mem
expect 2 "no kernel" -- run
expect 2 "--cpus 0" -- run --kernel "$ELF" --cpus 0
expect 2 "--cpus 1000000000" -- run --kernel "$ELF" --cpus 1000000000
expect 2 "--cpus two" -- run --kernel "$ELF" --cpus two
# Sandbox ids: 0 would be root, 2^32-1 means "unchanged" to setresuid.
expect 2 "--sandbox-uid 0" -- run --kernel "$ELF" --sandbox-uid 0
expect 2 "--sandbox-uid 4294967295" -- run --kernel "$ELF" --sandbox-uid 4294967295
expect 2 "--sandbox-gid nobody" -- run --kernel "$ELF" --sandbox-gid nobody
expect 2 "option --sandbox-uid needs a value" -- run --kernel "$ELF" --sandbox-uid
expect 2 "overflows" -- run --kernel "$ELF" --mem 99999999999999T
expect 2 "number too large" -- run --kernel "$ELF" --mem 999999999999999999999999
expect 2 "unknown unit" -- run --kernel "$ELF" --mem 12Q
expect 2 "more than this host's RAM" -- run --kernel "$ELF" --mem 64T
expect 2 "at least" -- run --kernel "$ELF" --mem 1M
expect 2 "not a usable guest RAM size" -- run --kernel "$ELF" --mem 8388609B
expect 2 "--console bogus" -- run --kernel "$ELF" --console bogus
expect 2 "--cpu-template" -- run --kernel "$ELF" --cpu-template fast
expect 2 "$T/missing" -- run --kernel "$T/missing"
expect 2 "$T/notakernel" -- run --kernel "$T/notakernel"
expect 2 "$T/empty" -- run --kernel "$T/empty"
expect 2 "$T/random" -- run --kernel "$T/random"
expect 2 "$T/dir" -- run --kernel "$T/dir"
expect 2 "setup" -- run --kernel "$T/liar"
expect 2 "$T/truncated.elf" -- run --kernel "$T/truncated.elf"
expect 2 "$T/missing-initrd" -- run --kernel "$ELF" --initrd "$T/missing-initrd"
expect 2 "$T/empty" -- run --kernel "$ELF" --initrd "$T/empty"
expect 2 "cmdline" -- run --kernel "$ELF" --cmdline "$(cat "$T/longcmd")"
expect 2 "$T/dir/no/such/file" -- run --kernel "$ELF" --console "file:$T/dir/no/such/file"
expect 2 "does not exist" -- run --guest no-such-guest-xyz
expect 0 "usage: bulkhead run" -- run --help
# Named descriptors (--fd NAME=N): syntax, then the descriptor itself.
expect 2 "--fd x: expected NAME=N" -- run --kernel "$ELF" --fd x
expect 2 "--fd =5: the name must be" -- run --kernel "$ELF" --fd =5
expect 2 "--fd 9net=5: the name must be" -- run --kernel "$ELF" --fd 9net=5
expect 2 "the name must be" -- run --kernel "$ELF" --fd "$(printf 'n%.0s' $(seq 32))=5"
expect 2 "--fd x=2: N must be a descriptor number from 3" -- run --kernel "$ELF" --fd x=2
expect 2 "--fd x=five: N must be" -- run --kernel "$ELF" --fd x=five
expect 2 "--fd x=77: not an open descriptor" -- run --kernel "$ELF" --fd x=77
expect 2 "--fd d=5: a directory" -- run --kernel "$ELF" --fd d=5 5<"$T/dir"
expect 2 "the name 'x' is taken already" -- run --kernel "$ELF" --fd x=5 --fd x=6 5<"$T/empty" 6<"$T/empty"
expect 2 "descriptor 5 is named already" -- run --kernel "$ELF" --fd a=5 --fd b=5 5<"$T/empty"
expect 2 "--fd c=5: descriptor 5 is the control socket" -- run --kernel "$ELF" --fd c=5 --control-fd 5 5<"$T/empty"
expect 2 "exceed 8 KiB" -- run --kernel "$ELF" --cmdline "$(head -c 4096 "$T/longcmd")" --cmdline-append "$(head -c 4096 "$T/longcmd")"
# virtio-vsock: the option, then the socket path (bound before the jail).
: >"$T/regular"
expect 2 "--vsock cid 2: must be between 3" -- run --kernel "$ELF" --vsock "cid=2,socket=$T/v.sock"
expect 2 "needs cid=N and socket=PATH" -- run --kernel "$ELF" --vsock "socket=$T/v.sock"
expect 2 "needs cid=N and socket=PATH" -- run --kernel "$ELF" --vsock cid=5
expect 2 "--vsock allow 10-5: expected ports" -- run --kernel "$ELF" --vsock "cid=5,socket=$T/v.sock,allow=10-5"
expect 2 "unknown or repeated key 'bogus'" -- run --kernel "$ELF" --vsock "cid=5,socket=$T/v.sock,bogus=1"
expect 2 "unknown or repeated key 'cid'" -- run --kernel "$ELF" --vsock "cid=5,cid=6,socket=$T/v.sock"
expect 2 "$T/regular: exists and is not a socket" -- run --kernel "$ELF" --vsock "cid=5,socket=$T/regular"
expect 2 "$T/dir/no/v.sock: No such file" -- run --kernel "$ELF" --vsock "cid=5,socket=$T/dir/no/v.sock"
expect 2 "longer than 107 bytes" -- run --kernel "$ELF" --vsock "cid=5,socket=$T/$(printf 'x%.0s' $(seq 120))"
# Issue 19: the version, the daemon client's options before the command.
expect 0 "bulkhead 0." -- --version
expect 1 "$T/none.sock" -- --socket "$T/none.sock" ps
expect 1 "$T/none.sock" -- --socket="$T/none.sock" --json inspect x
expect 2 "goes with a daemon client command" -- --socket "$T/none.sock" run --kernel "$ELF"

# The README and the man page match the program (docs_check.py).
python3 "$(dirname "$0")/docs_check.py" "$BH" "$(dirname "$BH")/bulkheadd" \
	"$(cd "$(dirname "$0")/../.." && pwd)" >"$T/docs" 2>&1
grep -v '^[0-9]* passed, [0-9]* failed' "$T/docs"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T/docs" | tail -n 1)
if [ -n "$line" ]; then
	pass=$((pass + ${line%% passed*}))
	f=${line#*passed, }
	fail=$((fail + ${f%% failed*}))
else
	echo "FAIL docs_check.py did not finish"; fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
