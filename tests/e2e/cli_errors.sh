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

# Hostile snapshot directories (README "Snapshots"): each refused before KVM
# with a message naming the reason, nothing changed. mksnap DIR [VARIANT]
# writes a well-formed state file (snapshot/snap_format.h), a sparse 64 MiB
# memory file and a manifest that matches them, then applies VARIANT.
mksnap() {
	python3 - "$@" <<'PY'
import hashlib, os, struct, sys
d, variant = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else '')
os.makedirs(d, exist_ok=True)
mem = 64 << 20
ncpus = 2 if variant == 'inconsistent' else 1
def sec(t, i, body):
    return struct.pack('<IIIIQ', t, i, 1, 0, len(body)) + body
# Variants whose recorded configuration names host paths (restore_paths.h).
extra = {'disk': b',"disks":[{"path":"/etc/hostname"}]',
         'console': b',"console":{"mode":"file","path":"/tmp/bh-hostile-console"}',
         'vsock': b',"vsock":{"cid":5,"socket":"/tmp/bh-hostile.sock"}'}.get(variant, b'')
secs = [sec(1, 0, b'{"mem":64,"cpus":1,"cpu_template":"host"' + extra + b'}'),
        sec(2, 0, struct.pack('<I', 0))]
secs += [sec(3, i, b'v' * 64) for i in range(ncpus)] + [sec(4, 0, b'vm'), sec(5, 0, b'')]
major = 2 if variant == 'major' else 1
state = b'BHSNAP\0\n' + struct.pack('<HHI', major, 0, 128) + b'0.1.0'.ljust(32, b'\0') + \
    struct.pack('<IIQII', ncpus, 0, mem, 1, len(secs)) + struct.pack('<QQQQ', 0, mem, 0, 0) + \
    bytes(24) + b''.join(secs)
if variant == 'truncated':
    state = state[:-30]
with open(os.path.join(d, 'memory'), 'wb') as f:
    f.truncate(mem // 2 if variant == 'shortmem' else mem)
h = lambda b: hashlib.sha256(b).hexdigest()
mh = h(bytes(mem))
open(os.path.join(d, 'state'), 'wb').write(state)
man = 'bulkhead-snapshot %d\nstate %d %s\nmemory %d %s\n' % (
    3 if variant == 'manmajor' else 1, len(state), h(state), mem, mh)
open(os.path.join(d, 'manifest'), 'w').write(man)
if variant == 'bitflip':
    b = bytearray(state); b[200] ^= 1
    open(os.path.join(d, 'state'), 'wb').write(bytes(b))
if variant == 'emptymanifest':
    open(os.path.join(d, 'manifest'), 'w').close()
PY
}
mkdir -p "$T/snap-empty"
for v in bitflip truncated major manmajor shortmem inconsistent emptymanifest ok disk console vsock; do
	mksnap "$T/snap-$v" "$v"
done
expect 2 "not a complete snapshot" -- restore "$T/snap-empty"
expect 2 "not a bulkhead snapshot manifest" -- restore "$T/snap-emptymanifest"
expect 2 "snapshot format 3" -- restore "$T/snap-manmajor"
expect 2 "does not match its manifest" -- restore "$T/snap-bitflip"
expect 2 "truncated" -- restore "$T/snap-truncated"
expect 2 "this bulkhead reads format 1" -- restore "$T/snap-major"
expect 2 "not the size its manifest says" -- restore "$T/snap-shortmem"
expect 2 "disagrees with the state file" -- restore "$T/snap-inconsistent"
expect 2 "nothing is overwritten" -- snapshot --control "$T/nosock" "$T/snap-ok"
expect 2 "a number from 1 to 64" -- clone --count 0 "$T/snap-ok"
# A clone's identity options (config/clone_id.h): checked before KVM.
expect 2 "the snapshot's VM has 0 NICs" -- restore --mac 02:00:00:00:00:01 "$T/snap-ok"
expect 2 "no vsock device" -- restore --vsock-cid 9 "$T/snap-ok"
expect 2 "a guest CID, 3 to 4294967294" -- restore --vsock-cid 2 "$T/snap-ok"
expect 2 "a number from 0 to 64" -- restore --clone-index 65 "$T/snap-ok"
expect 2 "at most 4 (one per NIC)" -- restore --mac 02:00:00:00:00:01 --mac 02:00:00:00:00:02 \
	--mac 02:00:00:00:00:03 --mac 02:00:00:00:00:04 --mac 02:00:00:00:00:05 "$T/snap-ok"
# A restore opens no host path the snapshot names (config/restore_paths.h).
expect 2 "disk 0 was recorded as '/etc/hostname'" -- restore "$T/snap-disk"
expect 2 "disk 0 was recorded as '/etc/hostname'" -- clone --count 2 "$T/snap-disk"
expect 2 "--disk: the snapshot's VM has 1 disk(s)" -- restore --disk "$T/a" --disk "$T/b" "$T/snap-disk"
expect 2 "--recorded-paths and --disk: give one" -- restore --recorded-paths --disk "$T/a" "$T/snap-disk"
expect 2 "recorded as the file '/tmp/bh-hostile-console'" -- restore "$T/snap-console"
expect 2 "vsock socket was recorded as '/tmp/bh-hostile.sock'" -- restore "$T/snap-vsock"
expect 2 "vsock socket was recorded as '/tmp/bh-hostile.sock'" -- clone --count 2 "$T/snap-vsock"
expect 2 "--tap: the snapshot's VM has 0 tap NIC(s)" -- restore --tap tap0 "$T/snap-ok"
expect 2 "an interface name of 1-15 characters" -- restore --tap a/b "$T/snap-ok"
[ ! -e /tmp/bh-hostile-console ] && [ ! -e /tmp/bh-hostile.sock ] &&
	echo "PASS [hostile snapshot paths: nothing created]" && pass=$((pass + 1)) ||
	{ echo "FAIL [hostile snapshot paths: a recorded path was created]"; fail=$((fail + 1)); }
expect 2 "cannot connect" -- snapshot --control "$T/nosock" "$T/snap-new"
[ ! -e "$T/snap-new/state" ] && [ ! -e "$T/snap-new/.state.tmp" ] &&
	echo "PASS [snapshot refused: no file left behind]" && pass=$((pass + 1)) ||
	{ echo "FAIL [snapshot refused: files left behind]"; fail=$((fail + 1)); }

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

# `bulkhead exec`: bad options are its own error (125), named, before any VM.
expect 125 "no program" -- exec
expect 125 "no program" -- exec --timeout 5s --
expect 125 "--timeout '0'" -- exec --timeout 0 -- true
expect 125 "--timeout '5y'" -- exec --timeout 5y -- true
expect 125 "--net 'switch=a'" -- exec --net switch=a -- true
expect 125 "--copy-in 'nocolon'" -- exec --copy-in nocolon -- true
expect 125 "must be absolute" -- exec --copy-out relative:/tmp/x -- true
expect 125 "--user '-1'" -- exec --user -1 -- true
expect 125 "--env 'NOEQUALS'" -- exec --env NOEQUALS -- true
expect 125 "--workdir 'tmp'" -- exec --workdir tmp -- true
expect 125 "--mem" -- exec --mem 1 -- true
expect 125 "unknown option '--frobnicate'" -- exec --frobnicate 1 -- true
expect 125 "--rootfs $T/nonexistent" -- exec --rootfs "$T/nonexistent" -- true
expect 125 "$T/noguest" -- exec --rootfs "$T/empty" --guest "$T/noguest" -- true
expect 0 "exit status" -- exec --help
# exec --vm: the VM's own options refused, the daemon's socket named
expect 125 "--rootfs does not go with --vm" -- exec --vm sandbox --rootfs /x -- true
expect 125 "--guest does not go with --vm" -- exec --guest exec --vm sandbox -- true
expect 125 "--socket goes with --vm" -- exec --socket /x.sock -- true
expect 125 "--boot-timeout with --vm: at most 300s" -- exec --vm sandbox --boot-timeout 10m -- true
expect 125 "--no-snapshot does not go with --vm" -- exec --vm sandbox --no-snapshot -- true
expect 125 "--vm 'a/b'" -- exec --vm a/b -- true
expect 125 "$T/no-daemon.sock" -- exec --vm sandbox --socket "$T/no-daemon.sock" -- true

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
