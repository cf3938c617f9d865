#!/bin/sh
# tests/e2e/virtio_linux.sh BULKHEAD GUEST_DIR FS_IMAGE EXPECT_TEXT [ONLY [NETMODS]]
#
# Real-Linux virtio tests (POSIX sh: runs inside the nested KVM host's busybox
# as well as on a host with /dev/kvm). The stock kernel of the default guest
# (GUEST_DIR: kernel, initrd with the virtio modules) boots with a per-test
# /cmd appended to its initramfs (a second cpio archive: the kernel unpacks
# both). FS_IMAGE is an ext4 image prepared on the host with `mkfs.ext4 -d`
# holding hello.txt whose content is EXPECT_TEXT.
#   blk-ext4     mount /dev/vda (ext4), read hello.txt, write a file, sync,
#                power off; the image must then contain the written token.
#                A second, read-only disk: the guest's write fails and the
#                image stays byte-identical. /dev/hwrng gives bytes.
#   blk-intx     the same mount/read with pci=nomsi: interrupts over INTx.
#   kill9        (a restore of snap-restore's snapshot, whose VM has the
#                raw disk: no boot of its own) the guest writes a pattern to
#                a raw disk with O_SYNC and says so; bulkhead is killed with
#                SIGKILL; the pattern must be in the image.
#   console      --console virtio and console=hvc0: init's output arrives
#                over virtio-console.
#   net-tap      virtio-net on a tap in a network namespace made here (never
#                an outside address): the guest's eth0 pings the namespace's
#                10.0.3.1, downloads 2 MiB over HTTP (busybox httpd) and
#                uploads 2 MiB over TCP (busybox nc); both checksums must
#                match (the stock driver acks checksum/TSO offloads: the tap
#                gets TUNSETOFFLOAD for them).
#   net-switch   `bulkhead switch --listen` and three VMs with --switch:
#                two on segment red (10.0.5.1 and .2) move 4 MiB of random
#                bytes over TCP (busybox nc; the md5 and size must match);
#                then a third on segment blue (10.0.5.3, same subnet) tries
#                ARP, ping and TCP toward 10.0.5.1 (the last two to its MAC
#                through a static ARP entry): no reply, and the receiver's
#                eth0 counts not one packet more, no echo request, no
#                neighbour entry for it.
#   net-uplink   `bulkhead run --net switch=lab --uplink lab` (its own switch
#                and passt) in a namespace A made here, whose default route
#                is a veth to namespace B: the guest fetches a page from B's
#                198.51.100.2; the gateway's port where only A listens, A's
#                own 203.0.113.7 and B's RFC 1918 10.9.0.2 stay out of reach
#                (the switch's egress policy), though A reaches both.
#                Needs passt (skipped with the reason otherwise).
#   balloon      virtio-balloon with free page reporting (the stock driver):
#                the guest fills 192 MiB of tmpfs, then frees it; the VM
#                process's resident memory must fall by at least 96 MiB
#                within 60 s (the guest reports the freed blocks, the host
#                releases them).
#   snap-restore a standalone `bulkhead run --control` boots to a shell that
#                reads commands from the console, with a random token in
#                tmpfs; `bulkhead snapshot` over the control socket, the VM
#                stopped, 12 s later `bulkhead restore`: the restored guest
#                must answer a typed command with that token, the square of
#                a number drawn after the restore and a wall clock within
#                2 s of the host's (advanced over the gap), then power off
#                cleanly (exit 0).
# Prints PASS/FAIL lines and "N passed, N failed".
set -u
BH=${1:?bulkhead} GUEST=${2:?guest dir} FSIMG=${3:?ext4 image} EXPECT=${4:?expected text}
ONLY=${5:-} # optional: run only this test (development); "" = all
NETMODS=${6:-} # dir with the stock kernel's failover.ko, net_failover.ko, virtio_net.ko,
# virtio_balloon.ko (the default guest's initramfs has the disk/console/rng drivers only)
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
T=$(mktemp -d /tmp/vlinux.XXXXXX)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
show() { sed 's/^/    out: /' "$T/out" | tail -n 25; sed 's/^/    err: /' "$T/err" | tail -n 15; }

# The per-test command script, selected by bh.test= on the kernel command line.
cat > "$T/cmd" <<'EOF'
t=$(sed -n 's/.*bh\.test=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
case "$t" in
blk-ext4|blk-intx)
	mkdir -p /mnt /ro
	mount -t ext4 /dev/vda /mnt || echo "MOUNT-FAILED"
	echo "READ: $(cat /mnt/hello.txt)"
	echo "serial: $(cat /sys/block/vda/serial)"
	if [ "$t" = blk-ext4 ]; then
		echo "TOKEN-bulkhead-written-by-guest" > /mnt/written.txt
		sync
		umount /mnt && echo "UMOUNT-OK"
		# the read-only disk: a raw write must fail
		if dd if=/dev/zero of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null; then
			echo "RO-WRITE-SUCCEEDED"
		else
			echo "RO-WRITE-REFUSED"
		fi
		echo "ro: $(cat /sys/block/vdb/ro)"
		echo "RNG: $(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')"
	fi
	grep -E 'virtio|PCI-MSI|IO-APIC.*virtio' /proc/interrupts | head -n 6
	;;
net-tap)
	ip link set lo up
	ip link set eth0 up && ip addr add 10.0.3.2/24 dev eth0 &&
		echo "ETH0-UP $(cat /sys/class/net/eth0/address) mtu $(cat /sys/class/net/eth0/mtu)"
	i=0
	while [ $i -lt 60 ] && ! ping -c 1 -W 1 10.0.3.1 >/dev/null 2>&1; do i=$((i + 1)); done
	ping -c 3 -W 3 10.0.3.1 >/dev/null 2>&1 && echo "PING-OK"
	echo "DOWN-MD5: $(wget -q -O - http://10.0.3.1:8080/blob | md5sum | cut -d' ' -f1)"
	dd if=/dev/urandom of=/up bs=65536 count=32 2>/dev/null
	echo "UP-MD5: $(md5sum /up | cut -d' ' -f1)"
	nc 10.0.3.1 5001 </up && echo "UP-SENT"
	;;
sw-recv)
	# on segment red: receive one TCP stream, then report what eth0 got
	# while the VM of another segment tried to reach us (the host says when)
	ip link set lo up
	ip link set eth0 up && ip addr add 10.0.5.1/24 dev eth0 && echo "ETH0-UP"
	mkfifo /hold
	nc -l -p 5001 </hold >/recv &
	n=$!
	exec 3>/hold # nc's stdin stays open: it ends when the sender closes
	wait $n
	exec 3>&-
	echo "RECV-MD5: $(md5sum </recv | cut -d' ' -f1) $(wc -c </recv)"
	read -r line
	echo "RX-BEFORE: $(cat /sys/class/net/eth0/statistics/rx_packets)"
	read -r line
	echo "RX-AFTER: $(cat /sys/class/net/eth0/statistics/rx_packets)"
	echo "ICMP-IN-ECHOS: $(awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InEchos") c = i; h = 1 } else print $c }' /proc/net/snmp)"
	echo "NEIGH-OTHER: $(ip neigh show 10.0.5.3 | grep -c lladdr)"
	;;
sw-send)
	# on segment red: send 4 MiB of random bytes to 10.0.5.1 over TCP
	ip link set lo up
	ip link set eth0 up && ip addr add 10.0.5.2/24 dev eth0 && echo "ETH0-UP"
	dd if=/dev/urandom of=/blob bs=65536 count=64 2>/dev/null
	echo "SENT-MD5: $(md5sum </blob | cut -d' ' -f1) $(wc -c </blob)"
	i=0 # until the receiver listens (refused / no ARP reply yet)
	until nc 10.0.5.1 5001 </blob 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 90 ] || break; sleep 1
	done
	echo "SEND-DONE after $i retries"
	;;
sw-other)
	# on segment blue, same subnet: ARP, ping and TCP toward the receiver,
	# the last two to its MAC directly (a static neighbour entry)
	ip link set eth0 up && ip addr add 10.0.5.3/24 dev eth0 && echo "ETH0-UP"
	echo "ARPING: $(arping -c 3 -w 4 -I eth0 10.0.5.1 2>&1 | grep -o 'Received [0-9]* response')"
	arp -i eth0 -s 10.0.5.1 02:00:00:00:05:01
	echo "OTHER-PING: $(ping -c 5 -w 6 10.0.5.1 2>&1 | grep -o '[0-9]* packets received')"
	echo "hello from blue" | nc -w 3 10.0.5.1 5001 2>/dev/null
	echo "OTHER-TX: $(cat /sys/class/net/eth0/statistics/tx_packets)"
	;;
net-uplink)
	# behind the switch's passt uplink (passt's DHCP would give these)
	ip link set lo up
	ip link set eth0 up && ip addr add 198.51.100.1/24 dev eth0 &&
		ip route add default via 198.51.100.2 && echo "ETH0-UP"
	i=0
	until out=$(timeout 8 wget -q -O - http://198.51.100.2:8080/t.txt 2>&1) && [ -n "$out" ]; do
		i=$((i + 1)); [ $i -lt 10 ] || break; sleep 1
	done
	echo "OUTSIDE: $out"
	# (busybox 1.35's wget -T crashes: timeout(1) bounds each fetch)
	echo "GATEWAY-8081: $(timeout 8 wget -q -O - http://198.51.100.2:8081/t.txt 2>&1)"
	echo "HOST-ADDR: $(timeout 8 wget -q -O - http://203.0.113.7:8081/t.txt 2>&1)"
	echo "RFC1918: $(timeout 8 wget -q -O - http://10.9.0.2:8080/t.txt 2>&1)"
	echo "UPLINK-DONE"
	;;
balloon)
	echo "balloon driver: $(ls /sys/bus/virtio/drivers/virtio_balloon 2>/dev/null | grep -c virtio)"
	mkdir -p /fill && mount -t tmpfs -o size=224m fill /fill &&
		dd if=/dev/zero of=/fill/blob bs=1048576 count=192 2>/dev/null && echo "FILLED"
	sleep 10
	rm -f /fill/blob && umount /fill && echo "FREED"
	sleep 600
	;;
snap-restore)
	# State only this boot has: a random token in a fresh tmpfs. Then a
	# shell reading commands from the console (the host types them after
	# the restore; the tty echoes each line, so the host matches only
	# what a command computes, never the literal line).
	mkdir -p /run && mount -t tmpfs run /run &&
		od -An -N8 -tx1 /dev/urandom | tr -d ' \n' >/run/tok
	echo "SNAP-READY tok=$(cat /run/tok) boot-date=$(date +%s)"
	while IFS= read -r line; do
		[ "$line" = exit ] && break
		eval "$line"
	done
	echo "SHELL-EXIT"
	;;
console)
	echo "over hvc0: $(cat /sys/class/tty/console/active 2>/dev/null)"
	read -r line && echo "GOT: $line"
	;;
esac
EOF
# virtio_net (+ dependencies) where the default guest's init loads modules
# from, numbered after its own (it loads /lib/modules/bulkhead/*.ko in order).
mkdir -p "$T/lib/modules/bulkhead"
files=cmd
n=80
for m in failover net_failover virtio_net virtio_balloon; do
	if [ -n "$NETMODS" ] && [ -f "$NETMODS/$m.ko" ]; then
		cp "$NETMODS/$m.ko" "$T/lib/modules/bulkhead/$n-$m.ko"
		files="$files lib lib/modules lib/modules/bulkhead lib/modules/bulkhead/$n-$m.ko"
		n=$((n + 1))
	fi
done
(cd "$T" && echo "$files" | tr ' ' '\n' | awk '!seen[$0]++' | cpio -o -H newc 2>/dev/null > extra.cpio) ||
	{ echo "FAIL setup: cpio"; exit 1; }
cat "$GUEST/initrd" "$T/extra.cpio" > "$T/initrd"
base="panic=-1 loglevel=4"

run() { # run NAME SECONDS ARGS... (output in $T/out, $T/err, status in $rc;
	# NAME only labels the call for the reader)
	secs=$2
	shift 2
	timeout -k 5 "$secs" "$BH" run --kernel "$GUEST/kernel" --initrd "$T/initrd" --mem 256M \
		"$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
}

# --- blk-ext4 (+ read-only disk, rng)
if want blk-ext4; then
cp "$FSIMG" "$T/fs.img"
dd if=/dev/zero of="$T/ro.img" bs=1024 count=1024 2>/dev/null
echo "read-only disk content" | dd of="$T/ro.img" conv=notrunc 2>/dev/null
ro_sum=$(md5sum "$T/ro.img" | cut -d' ' -f1)
run blk-ext4 150 --cpus 2 --cmdline "console=ttyS0 $base bh.test=blk-ext4" \
	--disk "path=$T/fs.img,id=test-serial-1" --disk "path=$T/ro.img,ro=on"
why=""
[ "$rc" = 0 ] || why="exit $rc"
grep -q "READ: $EXPECT" "$T/out" || why="$why; host file not read"
grep -q "serial: test-serial-1" "$T/out" || why="$why; serial (GET_ID) wrong"
grep -q "UMOUNT-OK" "$T/out" || why="$why; umount failed"
grep -q "TOKEN-bulkhead-written-by-guest" "$T/fs.img" || why="$why; written file not in the image"
grep -q "RO-WRITE-REFUSED" "$T/out" || why="$why; write to the ro disk was not refused"
grep -q "ro: 1" "$T/out" || why="$why; guest does not see vdb read-only"
[ "$(md5sum "$T/ro.img" | cut -d' ' -f1)" = "$ro_sum" ] || why="$why; ro image changed"
grep -Eq "RNG: [0-9a-f]{32}" "$T/out" || why="$why; no bytes from /dev/hwrng"
grep -q "PCI-MSI" "$T/out" || why="$why; no MSI-X interrupts"
if [ -z "$why" ]; then ok "linux/virtio-blk-ext4 (+ro disk, rng, MSI-X)"; else bad "linux/virtio-blk-ext4" "$why"; show; fi
fi

# --- blk-intx: the same disk read with MSI-X off
if want blk-intx; then
cp "$FSIMG" "$T/fs.img"
run blk-intx 150 --cpus 1 --cmdline "console=ttyS0 $base pci=nomsi bh.test=blk-intx" \
	--disk "path=$T/fs.img" --no-rng
why=""
[ "$rc" = 0 ] || why="exit $rc"
grep -q "READ: $EXPECT" "$T/out" || why="$why; host file not read"
grep -q "PCI-MSI" "$T/out" && why="$why; MSI used despite pci=nomsi"
grep -q "serial: bulkhead-vda" "$T/out" || why="$why; default serial wrong"
if [ -z "$why" ]; then ok "linux/virtio-blk-intx"; else bad "linux/virtio-blk-intx" "$why"; show; fi
fi

# --- console: init's output over virtio-console (hvc0), and input to it
if want console; then
# Type the line once the guest is reading hvc0, as a user would. As the
# README does it: the prepared guest keeps its own command line (what its
# kernel needs on this host kind) and console=hvc0 is appended to it.
mkfifo "$T/in"
: >"$T/out"
timeout -k 5 150 "$BH" run --guest "$GUEST" --initrd "$T/initrd" --mem 256M \
	--console virtio --no-rng --cmdline-append "console=hvc0 bh.test=console" \
	<"$T/in" >"$T/out" 2>"$T/err" &
pid=$!
exec 7>"$T/in"
i=0
while [ $i -lt 120 ] && ! grep -q "over hvc0" "$T/out"; do sleep 1; i=$((i + 1)); done
sleep 1
printf 'ping-over-virtio\n' >&7
exec 7>&-
wait "$pid"
rc=$?
why=""
[ "$rc" = 0 ] || why="exit $rc"
grep -q "BULKHEAD-GUEST-DONE" "$T/out" || why="$why; init output missing"
grep -q "over hvc0: .*hvc0" "$T/out" || why="$why; hvc0 is not a console"
grep -q "GOT: ping-over-virtio" "$T/out" || why="$why; input did not reach the guest"
if [ -z "$why" ]; then ok "linux/virtio-console (output and input)"; else bad "linux/virtio-console" "$why"; show; fi
fi

# --- snap-restore: a booted Linux, snapshotted through the control socket of
# a standalone `bulkhead run`, stopped, restored: the restored guest answers a
# command with what only that boot knows (its token in tmpfs), a computation
# on a number chosen after the restore, and a wall clock advanced over the
# gap (the VM stays stopped for GAP s; a clock resumed as saved would be that
# far behind); then it powers off cleanly.
# --- kill9 (a second restore of the same snapshot: no boot of its own, the
# disk path is the same): the guest writes a pattern to its raw disk with
# O_SYNC and says so; the restoring bulkhead is killed with SIGKILL; the
# pattern must be in the image.
if want snap-restore || want kill9; then
uptime_cs() { cut -d' ' -f1 /proc/uptime | tr -d .; } # centiseconds
wait_out() { # wait_out FILE PATTERN SECS PID: 0 once FILE has PATTERN
	_i=0
	while [ $_i -lt $(($3 * 10)) ] && kill -0 "$4" 2>/dev/null; do
		grep -q "$2" "$1" && return 0
		sleep 0.1; _i=$((_i + 1))
	done
	grep -q "$2" "$1"
}
GAP=12
why=""
mkfifo "$T/in1" "$T/in2" "$T/in3"
dd if=/dev/zero of="$T/raw.img" bs=1024 count=4096 2>/dev/null
: >"$T/out"
"$BH" run --kernel "$GUEST/kernel" --initrd "$T/initrd" --mem 256M --no-rng \
	--disk "path=$T/raw.img" \
	--control "$T/vm.sock" --cmdline "console=ttyS0 $base bh.test=snap-restore" \
	<"$T/in1" >"$T/out" 2>"$T/err" &
pid=$!
exec 7>"$T/in1"
if ! wait_out "$T/out" "SNAP-READY tok=[0-9a-f]\{16\} " 150 "$pid"; then
	why="the guest never got ready"
else
	tok=$(sed -n 's/.*SNAP-READY tok=\([0-9a-f]*\) .*/\1/p' "$T/out" | head -n 1)
	s0=$(uptime_cs)
	"$BH" snapshot --control "$T/vm.sock" "$T/snap" >"$T/snap.log" 2>&1 ||
		why="bulkhead snapshot failed: $(tail -n 3 "$T/snap.log" | tr '\n' ' ')"
	s1=$(uptime_cs)
	for f in state memory manifest; do
		[ -f "$T/snap/$f" ] || why="$why; no $f in the snapshot directory"
	done
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid"
exec 7>&-
cat "$T/err" >>"$T/snap.log"
snapwhy=$why
if [ -z "$why" ] && want snap-restore; then
	sleep $GAP
	: >"$T/out"
	r0=$(uptime_cs)
	"$BH" restore --disk "$T/raw.img" "$T/snap" <"$T/in2" >"$T/out" 2>"$T/err" &
	pid=$!
	exec 7>"$T/in2"
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	h0=$(date +%s)
	printf 'echo "LIVE tok=$(cat /run/tok) sq=$((%s * %s)) now=$(date +%%s)"\n' "$n" "$n" >&7
	if wait_out "$T/out" "LIVE tok=[0-9a-f]" 60 "$pid"; then
		r1=$(uptime_cs)
		h1=$(date +%s)
		printf 'exit\n' >&7
	else
		why="the restored guest did not answer within 60 s"
	fi
	exec 7>&-
	i=0
	while [ $i -lt 300 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	if [ -z "$why" ]; then
		# the answer, not the tty's echo of the typed line
		line=$(grep "LIVE tok=[0-9a-f]" "$T/out" | head -n 1 | tr -d '\r')
		gnow=${line##*now=}
		grep -q "LIVE tok=$tok sq=$((n * n)) now=" "$T/out" ||
			why="wrong answer: '$line' (token $tok, $n squared $((n * n)))"
		case "$gnow" in
		'' | *[!0-9]*) why="$why; no guest time in '$line'" ;;
		*) [ "$gnow" -ge $((h0 - 2)) ] && [ "$gnow" -le $((h1 + 2)) ] ||
			why="$why; guest clock $gnow not advanced to the host's $h0..$h1 after ${GAP}+ s stopped" ;;
		esac
		grep -q "SHELL-EXIT" "$T/out" && grep -q "BULKHEAD-GUEST-DONE" "$T/out" ||
			why="$why; the restored guest did not finish its init"
		[ "$rc" = 0 ] || why="$why; restore exit $rc (not a clean power-off)"
	fi
fi
if ! want snap-restore; then
	:
elif [ -z "$why" ]; then
	ok "linux/snapshot-restore-answers (snapshot $(((s1 - s0) * 10)) ms, restore to answer $(((r1 - r0) * 10)) ms, guest clock $gnow, host $h0..$h1 after ${GAP} s stopped; $(sed -n 's/.*info: guest clock advanced by //p' "$T/err" | head -n 1))"
else
	bad "linux/snapshot-restore" "${why#; }"; show; sed 's/^/    snap: /' "$T/snap.log" | tail -n 10
fi
if want kill9; then
	why=""
	if [ -n "$snapwhy" ]; then
		why="no snapshot to restore: ${snapwhy#; }"
	else
		: >"$T/out"
		"$BH" restore --disk "$T/raw.img" "$T/snap" <"$T/in3" >"$T/out" 2>"$T/err" &
		pid=$!
		exec 7>"$T/in3"
		# FLUSHED-42 is computed: the tty's echo of the line cannot match
		printf '%s\n' 'i=0; while [ $i -lt 64 ]; do echo "PATTERN-KILL9-$i-0123456789abcdef"; i=$((i + 1)); done >/p; dd if=/p of=/dev/vda bs=4096 conv=fsync 2>/dev/null && echo "FLUSHED-$((6 * 7))"' >&7
		wait_out "$T/out" "FLUSHED-42" 120 "$pid" || why="guest never reported FLUSHED"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=$?
		exec 7>&-
		[ "$rc" = 137 ] || why="$why; exit $rc, not SIGKILL"
		grep -q "PATTERN-KILL9-63-0123456789abcdef" "$T/raw.img" || why="$why; flushed data missing"
	fi
	if [ -z "$why" ]; then ok "linux/kill9-flushed-data-persists (a restored VM)"
	else bad "linux/kill9" "${why#; }"; show; fi
fi
rm -rf "$T/snap"
fi

# --- net-tap: a real Linux TCP stack over virtio-net and a tap
if want net-tap; then
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
	mkdir -p "$T/www"
	dd if=/dev/urandom of="$T/www/blob" bs=65536 count=32 2>/dev/null
	cat >"$T/tap.sh" <<'TAPEOF'
BH=$1 T=$2 K=$3 base=$4
ip link set lo up
timeout -k 5 200 "$BH" run --kernel "$K" --initrd "$T/initrd" --mem 256M --no-rng \
	--net tap=bhtap1 --cmdline "console=ttyS0 $base bh.test=net-tap" \
	</dev/null >"$T/out" 2>"$T/err" &
pid=$!
i=0
while [ $i -lt 300 ] && ! ip link show bhtap1 >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
ip addr add 10.0.3.1/24 dev bhtap1 && ip link set bhtap1 up
busybox httpd -f -p 10.0.3.1:8080 -h "$T/www" &
h=$!
(sleep 190 | busybox nc -l -p 5001 >"$T/up.bin") &
n=$!
wait $pid
rc=$?
kill $h $n 2>/dev/null
exit $rc
TAPEOF
	timeout -k 5 220 unshare -n sh "$T/tap.sh" "$BH" "$T" "$GUEST/kernel" "$base"
	rc=$?
	why=""
	[ "$rc" = 0 ] || why="exit $rc"
	grep -q "ETH0-UP" "$T/out" || why="$why; no eth0"
	grep -q "PING-OK" "$T/out" || why="$why; no ping reply"
	down=$(md5sum "$T/www/blob" | cut -d' ' -f1)
	grep -q "DOWN-MD5: $down" "$T/out" || why="$why; HTTP download damaged or missing"
	up=$(md5sum "$T/up.bin" 2>/dev/null | cut -d' ' -f1)
	grep -q "UP-MD5: ${up:-none}" "$T/out" || why="$why; TCP upload damaged or missing"
	if [ -z "$why" ]; then ok "linux/virtio-net-tap (ping, 2 MiB down over HTTP, 2 MiB up over TCP)"
	else bad "linux/virtio-net-tap" "$why"; show; fi
else
	echo "SKIP linux/virtio-net-tap: no 'unshare -n' or 'ip' here"
fi
fi

# --- net-switch: two Linux VMs on one segment of the bulkhead switch, one
# on another segment (no network namespace needed: the ports are socketpairs)
if want net-switch; then
swnet() { # swnet SEGMENT MAC IP: the --net argument of a port
	echo "switch=$1,mac=$2,ip=$3"
}
val() { # val KEY FILE: the value of the guest's "KEY: value" line (no CR)
	sed -n "s/^$1: //p" "$2" | tr -d '\r' | head -n 1
}
waitfor() { # waitfor FILE TEXT SECONDS PID: until TEXT is in FILE (or PID ends)
	i=0
	while [ $i -lt $(($3 * 5)) ] && ! grep -q "$2" "$1" && kill -0 "$4" 2>/dev/null; do
		sleep 0.2; i=$((i + 1))
	done
	grep -q "$2" "$1"
}
"$BH" switch --listen "$T/sw.sock" </dev/null >"$T/sw.out" 2>"$T/sw.err" &
sw=$!
i=0
while [ $i -lt 100 ] && [ ! -S "$T/sw.sock" ]; do sleep 0.1; i=$((i + 1)); done
# the receiver reads the host's go-ahead lines from its console
mkfifo "$T/a.in"
: >"$T/a.out"
"$BH" run --kernel "$GUEST/kernel" --initrd "$T/initrd" --mem 256M --no-rng \
	--switch "$T/sw.sock" --net "$(swnet red 02:00:00:00:05:01 10.0.5.1)" \
	--cmdline "console=ttyS0 $base bh.test=sw-recv" <"$T/a.in" >"$T/a.out" 2>"$T/a.err" &
a=$!
exec 7>"$T/a.in"
run sw-send 200 --no-rng --switch "$T/sw.sock" --net "$(swnet red 02:00:00:00:05:02 10.0.5.2)" \
	--cmdline "console=ttyS0 $base bh.test=sw-send"
cp "$T/out" "$T/b.out"
cp "$T/err" "$T/b.err"
why=""
[ "$rc" = 0 ] || why="sender exit $rc"
sent=$(val SENT-MD5 "$T/b.out")
grep -q "SEND-DONE" "$T/b.out" || why="$why; the sender never finished"
waitfor "$T/a.out" "RECV-MD5:" 60 "$a" || why="$why; the receiver got no complete stream"
got=$(val RECV-MD5 "$T/a.out")
[ -n "$sent" ] && [ "$sent" = "$got" ] || why="$why; sent '$sent', received '$got' (md5 bytes)"
# the other segment: the receiver's packet count before and after
printf 'before\n' >&7
waitfor "$T/a.out" "RX-BEFORE:" 30 "$a" || why="$why; no RX-BEFORE"
run sw-other 150 --no-rng --switch "$T/sw.sock" --net "$(swnet blue 02:00:00:00:05:03 10.0.5.3)" \
	--cmdline "console=ttyS0 $base bh.test=sw-other"
[ "$rc" = 0 ] || why="$why; other-segment VM exit $rc"
printf 'after\n' >&7
exec 7>&-
waitfor "$T/a.out" "NEIGH-OTHER:" 30 "$a" || why="$why; no report from the receiver"
i=0
while [ $i -lt 150 ] && kill -0 "$a" 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
kill -9 "$a" 2>/dev/null
wait "$a"
arc=$?
[ "$arc" = 0 ] || why="$why; receiver exit $arc"
before=$(val RX-BEFORE "$T/a.out")
after=$(val RX-AFTER "$T/a.out")
tx=$(val OTHER-TX "$T/out")
[ -n "$before" ] && [ "$before" = "$after" ] ||
	why="$why; the receiver's eth0 got packets while only the other segment sent ($before -> $after)"
[ "${tx:-0}" -ge 9 ] 2>/dev/null || why="$why; the other-segment VM sent only '${tx}' packets"
grep -q "ARPING: Received 0 response" "$T/out" || why="$why; ARP answered across segments"
grep -q "OTHER-PING: 0 packets received" "$T/out" || why="$why; ping answered across segments"
[ "$(val ICMP-IN-ECHOS "$T/a.out")" = 0 ] || why="$why; an echo request reached the receiver"
[ "$(val NEIGH-OTHER "$T/a.out")" = 0 ] || why="$why; the receiver learned the other segment's MAC"
kill "$sw" 2>/dev/null
wait "$sw"
if [ -z "$why" ]; then
	ok "linux/virtio-net-switch (4 MiB over TCP between two VMs on one segment intact; the other segment's ARP, ping and TCP never arrive: $before packets before, $after after)"
else
	bad "linux/virtio-net-switch" "${why#; }"
	for f in a.out a.err b.out b.err out err sw.err; do sed "s/^/    $f: /" "$T/$f" | tail -n 15; done
fi
fi

# --- net-uplink: the passt uplink reaches the outside, not the host nor RFC 1918
if want net-uplink; then
passt=$(command -v passt 2>/dev/null || { [ -x /usr/bin/passt ] && echo /usr/bin/passt; })
if [ -z "$passt" ]; then
	echo "SKIP linux/virtio-net-uplink: passt is not installed (Debian package passt)"
elif ! unshare -n true 2>/dev/null || ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
	echo "SKIP linux/virtio-net-uplink: no 'unshare -n', 'nsenter' or 'ip' here"
else
	mkdir -p "$T/out-www" "$T/host-www"
	echo "OUTSIDE-REACHED" >"$T/out-www/t.txt"
	echo "HOST-REACHED" >"$T/host-www/t.txt"
	# namespace A (the host: bulkhead, its switch and passt; 198.51.100.1 and
	# 203.0.113.7 on lo; default route via B) and namespace B (the outside:
	# 198.51.100.2 and the RFC 1918 10.9.0.2, both serving OUTSIDE-REACHED /
	# a page on 8080), joined by a veth pair; A serves HOST-REACHED on 8081
	cat >"$T/uplink.sh" <<'UPEOF'
BH=$1 T=$2 K=$3 base=$4
# passt pivots into an empty root of its own: impossible from an
# initramfs's rootfs (the nested KVM host's /), possible from a bind mount
# of it moved over / (switch_root's way; a plain chroot would forbid passt's
# user namespace). This script runs in a mount namespace of its own.
if [ "$(awk '$2 == "/" { print $3; exit }' /proc/mounts)" = rootfs ] && [ -z "${BH_REROOTED:-}" ]; then
	mkdir -p "$T/root" && mount --rbind / "$T/root" && cd "$T/root" && mount --move . / &&
		exec env BH_REROOTED=1 chroot . sh "$0" "$@"
	echo "NS-SETUP-FAILED reroot"
fi
ip link set lo up
unshare -n sleep 400 &
b=$!
sleep 0.3
ip link add vA type veth && ip link set dev veth0 netns $b || echo "NS-SETUP-FAILED veth"
ip addr add 198.51.100.1/24 dev vA && ip link set vA up && ip route add default via 198.51.100.2 &&
	ip addr add 203.0.113.7/32 dev lo || echo "NS-SETUP-FAILED A"
nsenter -t $b -n sh -c 'ip link set lo up && ip addr add 198.51.100.2/24 dev veth0 &&
	ip addr add 10.9.0.2/24 dev veth0 && ip link set veth0 up' || echo "NS-SETUP-FAILED B"
nsenter -t $b -n busybox httpd -f -p 8080 -h "$T/out-www" &
h1=$!
busybox httpd -f -p 8081 -h "$T/host-www" &
h2=$!
sleep 0.5
get() { printf 'GET /t.txt HTTP/1.0\r\n\r\n' | timeout 10 busybox nc "$1" "$2" 2>/dev/null | tail -n 1; }
# controls: from the host, both forbidden servers answer
echo "CONTROL-RFC1918: $(get 10.9.0.2 8080)"
echo "CONTROL-HOST: $(get 203.0.113.7 8081)"
timeout -k 5 150 "$BH" run --kernel "$K" --initrd "$T/initrd" --mem 256M --no-rng \
	--net switch=lab --uplink lab --cmdline "console=ttyS0 $base bh.test=net-uplink" \
	</dev/null >"$T/out" 2>"$T/err"
rc=$?
kill $h1 $h2 $b 2>/dev/null
wait $h1 $h2 $b 2>/dev/null
exit $rc
UPEOF
	timeout -k 5 180 unshare -n -m sh "$T/uplink.sh" "$BH" "$T" "$GUEST/kernel" "$base" >"$T/ns.out" 2>&1
	rc=$?
	why=""
	[ "$rc" = 0 ] || why="exit $rc"
	grep -q "NS-SETUP-FAILED" "$T/ns.out" && why="$why; $(grep NS-SETUP-FAILED "$T/ns.out" | tr '\n' ' ')"
	grep -q "CONTROL-RFC1918: OUTSIDE-REACHED" "$T/ns.out" || why="$why; the host cannot reach 10.9.0.2 itself"
	grep -q "CONTROL-HOST: HOST-REACHED" "$T/ns.out" || why="$why; the host's own server does not answer"
	grep -q "OUTSIDE: OUTSIDE-REACHED" "$T/out" || why="$why; the outside server not reached through passt"
	grep -q "UPLINK-DONE" "$T/out" || why="$why; the guest did not finish"
	grep -q "HOST-REACHED" "$T/out" && why="$why; the guest reached the host's server"
	grep -q "RFC1918:.*REACHED" "$T/out" && why="$why; the guest reached 10.9.0.2"
	if [ -z "$why" ]; then
		ok "linux/virtio-net-uplink (passt: the outside server reached; the gateway's port 8081, the host's 203.0.113.7 and RFC 1918 10.9.0.2 not, though the host reaches both)"
	else
		bad "linux/virtio-net-uplink" "${why#; }"; show; sed 's/^/    ns: /' "$T/ns.out" | tail -n 10
	fi
fi
fi

# --- balloon: memory the guest frees goes back to the host
if want balloon; then
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }
vm_child() { # the VM process: the supervisor's child (its PID in our namespace)
	for st in /proc/[0-9]*/stat; do
		# shellcheck disable=SC2046
		set -- $(sed 's/^[0-9]* (.*) //' "$st" 2>/dev/null)
		[ "${2:-}" = "$pid" ] && { p=${st#/proc/}; echo "${p%/stat}"; return; }
	done
}
: >"$T/out"
"$BH" run --kernel "$GUEST/kernel" --initrd "$T/initrd" --mem 384M --no-rng --balloon \
	--cmdline "console=ttyS0 $base bh.test=balloon" </dev/null >"$T/out" 2>"$T/err" &
pid=$!
i=0
while [ $i -lt 1500 ] && ! grep -q "FILLED" "$T/out" && kill -0 "$pid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
vm=$(vm_child)
filled=$(rss_kb "${vm:-0}")
freed=""
why=""
grep -q "balloon driver: 1" "$T/out" || why="the guest's virtio_balloon driver did not bind"
if [ -z "$filled" ] || grep -q "FREED" "$T/out"; then
	why="$why; no VM process resident size while filled (FILLED seen: $(grep -c FILLED "$T/out"), VM pid '${vm}')"
else
	i=0
	while [ $i -lt 300 ] && kill -0 "$pid" 2>/dev/null; do
		if grep -q "FREED" "$T/out"; then
			freed=$(rss_kb "$vm")
			[ -n "$freed" ] && [ $((filled - freed)) -ge 98304 ] && break
		fi
		sleep 0.2; i=$((i + 1))
	done
	grep -q "FREED" "$T/out" || why="$why; the guest never freed its memory"
	[ -n "$freed" ] && [ $((filled - freed)) -ge 98304 ] ||
		why="$why; resident size did not fall by 96 MiB: ${filled} kB filled, ${freed:-?} kB 60 s after"
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
[ "$rc" = 4 ] || why="$why; exit $rc after SIGTERM, not 4"
if [ -z "$why" ]; then
	ok "linux/virtio-balloon-free-page-reporting (VM resident $((filled / 1024)) MiB filled, $((freed / 1024)) MiB after the guest freed 192 MiB)"
else
	bad "linux/virtio-balloon-free-page-reporting" "${why#; }"; show
fi
fi

rm -rf "$T"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
