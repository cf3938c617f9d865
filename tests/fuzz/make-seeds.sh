#!/usr/bin/env bash
# make-seeds.sh [BUILD_DIR] — regenerate the committed fuzz_boot seed corpus
# (tests/fuzz/corpus/boot) with make_seeds, and the virtio ones
# (corpus/virtq, corpus/blk) with make_virtio_seeds, from a -Dfuzz=true build
# (default build-fuzz). Seeds are small crafted kernels (< 64 KiB each).
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build-fuzz}"
ninja -C "$build" tests/fuzz/make_seeds tests/fuzz/make_virtio_seeds tests/fuzz/make_state_seeds
mkdir -p tests/fuzz/corpus/boot
"$build/tests/fuzz/make_seeds" tests/fuzz/corpus/boot
ls -l tests/fuzz/corpus/boot
# fuzz_virtq / fuzz_blk scripts (corpus/virtq, corpus/blk)
"$build/tests/fuzz/make_virtio_seeds" tests/fuzz/corpus
ls -l tests/fuzz/corpus/virtq tests/fuzz/corpus/blk
# fuzz_state: device states saved from a driven device set (corpus/state)
"$build/tests/fuzz/make_state_seeds" tests/fuzz/corpus
ls -l tests/fuzz/corpus/state
# fuzz_api's control records (corpus/api/ctl-*): selector byte (sel % 3 == 2;
# bit 7: a reply; bits 4-6: descriptors received), then a v2 record
# (ctl_proto.h: 32-byte header + payload).
python3 - tests/fuzz/corpus/api <<'PY'
import os, struct, sys
d = sys.argv[1]
MAGIC, REPLY = 0x54434842, 0x8000
def rec(t, seq=1, status=0, payload=b'', nfds=0, version=2):
    return struct.pack('<IHHIiIIII', MAGIC, version, t, seq, status, 0, len(payload), nfds, 0) + payload
status = struct.pack('<IIQQQ', 1, 2, 1000, 600, 300)
name = lambda s: s.encode().ljust(32, b'\0')
seeds = {
    'ctl-request': bytes([0x02]) + rec(1),                                 # status
    'ctl-pause': bytes([0x02]) + rec(2, seq=7),
    'ctl-attach': bytes([0x11]) + rec(6, payload=name('net0'), nfds=1),    # attach-fd + 1 fd
    'ctl-attach-2fds': bytes([0x26]) + rec(6, payload=name('net0'), nfds=2),
    'ctl-list': bytes([0x02]) + rec(7),
    'ctl-reply': bytes([0x80]) + rec(1 | REPLY, payload=status),
    'ctl-reply-eperm': bytes([0x80]) + rec(3 | REPLY, status=-1, payload=status),
    'ctl-list-reply': bytes([0x80]) + rec(7 | REPLY, payload=status + struct.pack('<II', 2, 0)
        + name('net0') + struct.pack('<II', 3, 0) + name('snap') + struct.pack('<II', 1, 0)),
    'ctl-v1': bytes([0x02]) + struct.pack('<IHHIi', MAGIC, 1, 1, 1, 0) + bytes(48),
    'ctl-short': bytes([0x02]) + rec(1)[:20],
}
for f, b in seeds.items():
    open(os.path.join(d, f), 'wb').write(b)
PY
ls -l tests/fuzz/corpus/api/ctl-*
# fuzz_frame's wire messages (corpus/frame): a 12-byte net_port_hdr, then a
# frame from port 52:54:00:00:00:0a (10.0.0.10, fd00::a): ARP, IPv4 TCP/UDP,
# a VLAN-tagged frame, IPv6 UDP behind extension headers, NDP NS/NA/RA, GSO.
mkdir -p tests/fuzz/corpus/frame
python3 - tests/fuzz/corpus/frame <<'PY'
import os, struct, sys
d = sys.argv[1]
A, B, BC = bytes.fromhex('52540000000a'), bytes.fromhex('52540000000b'), b'\xff' * 6
IPA, IPB = bytes([10, 0, 0, 10]), bytes([10, 0, 0, 11])
I6A, I6B = bytes.fromhex('fd00' + '00' * 13 + '0a'), bytes.fromhex('fd00' + '00' * 13 + '0b')
LLA = bytes.fromhex('fe80000000000000505400fffe00000a')
def hdr(flags=0, gso=0, hl=0, gs=0, cs=0, co=0): return struct.pack('<BBHHHHH', flags, gso, hl, gs, cs, co, 0)
def eth(dst, src, et): return dst + src + struct.pack('!H', et)
def ip4(src, dst, proto, l4): return struct.pack('!BBHHHBBH', 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0) + src + dst + l4
def tcp(sp, dp, data=b''): return struct.pack('!HHIIBBHHH', sp, dp, 1, 0, 0x50, 2, 65535, 0, 0) + data
def udp(sp, dp, data=b''): return struct.pack('!HHHH', sp, dp, 8 + len(data), 0) + data
def ip6(src, dst, nh, pl): return struct.pack('!IHBB', 0x60000000, len(pl), nh, 255) + src + dst + pl
def nd(t, target, opt=None):
    body = struct.pack('!BBHI', t, 0, 0, 0) + target
    if opt: body += bytes([1 if t == 135 else 2, 1]) + opt
    return body
arp = lambda op, sha, spa, tpa: struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + sha + spa + b'\0' * 6 + tpa
seeds = {
    'arp-request': hdr() + eth(BC, A, 0x806) + arp(1, A, IPA, IPB),
    'arp-garp-spoof': hdr() + eth(BC, A, 0x806) + arp(2, A, IPB, IPB),
    'ip4-tcp': hdr() + eth(B, A, 0x800) + ip4(IPA, IPB, 6, tcp(40000, 80, b'hello')),
    'ip4-udp-csum': hdr(1, 0, 0, 0, 34, 6) + eth(B, A, 0x800) + ip4(IPA, IPB, 17, udp(5, 6, b'x' * 20)),
    'ip4-tso': hdr(1, 1, 54, 1448, 34, 16) + eth(B, A, 0x800) + ip4(IPA, IPB, 6, tcp(1, 2, b'y' * 3000)),
    'dhcp': hdr() + eth(BC, A, 0x800) + ip4(b'\0' * 4, b'\xff' * 4, 17, udp(68, 67, b'\0' * 240)),
    'vlan': hdr() + eth(B, A, 0x8100) + struct.pack('!HH', 42, 0x800) + ip4(IPA, IPB, 17, udp(1, 2)),
    'qinq': hdr() + eth(B, A, 0x88a8) + struct.pack('!HHHH', 1, 0x8100, 2, 0x800) + ip4(IPA, IPB, 17, udp(1, 2)),
    'ip6-ext-udp': hdr() + eth(B, A, 0x86dd) + ip6(I6A, I6B, 0, bytes([60, 0]) + b'\0' * 6 + bytes([17, 0]) + b'\0' * 6 + udp(546, 547)),
    'ip6-frag': hdr() + eth(B, A, 0x86dd) + ip6(I6A, I6B, 44, struct.pack('!BBHI', 17, 0, 1, 7) + udp(1, 2)),
    'ndp-ns': hdr() + eth(BC, A, 0x86dd) + ip6(LLA, I6B, 58, nd(135, I6B, A)),
    'ndp-na-spoof': hdr() + eth(BC, A, 0x86dd) + ip6(LLA, I6B, 58, nd(136, I6B, A)),
    'ndp-ra': hdr() + eth(BC, A, 0x86dd) + ip6(LLA, I6B, 58, struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0)),
    'lldp': hdr() + eth(BC, A, 0x88cc) + b'\0' * 32,
}
for f, b in seeds.items():
    open(os.path.join(d, f), 'wb').write(b)
PY
ls -l tests/fuzz/corpus/frame
# fuzz_snap (corpus/snap): a well-formed state file (snapshot/snap_format.h)
# for 1 and for 2 vCPUs with zeroed KVM structures, and a manifest.
python3 - tests/fuzz/corpus/snap <<'PY'
import os, struct, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
REGS, SREGS, XCRS, LAPIC, EVENTS, DBG, CHIP, PIT = 144, 312, 392, 1024, 64, 128, 520, 112
def sec(t, i, v, body):
    return struct.pack('<IIIIQ', t, i, v, 0, len(body)) + body
def state(ncpus, mem=64 << 20):
    vcpu = bytes(REGS) + struct.pack('<' + 'Q' * 39, *([0] * 39)) + struct.pack('<I', 4096) + \
        bytes(4096) + bytes(XCRS) + struct.pack('<I', 1) + struct.pack('<IQ', 0x10, 5) + \
        bytes(LAPIC) + bytes(EVENTS) + struct.pack('<I', 0) + bytes(DBG)
    secs = [sec(1, 0, 1, b'{"mem":64,"cpus":%d}' % ncpus), sec(2, 0, 1, struct.pack('<I', 0))]
    secs += [sec(3, i, 1, vcpu) for i in range(ncpus)]
    secs += [sec(4, 0, 1, bytes(3 * CHIP + PIT + 20)), sec(5, 0, 1, b'')]
    hdr = b'BHSNAP\0\n' + struct.pack('<HHI', 1, 0, 128) + b'0.1.0'.ljust(32, b'\0') + \
        struct.pack('<IIQII', ncpus, 0, mem, 1, len(secs)) + struct.pack('<QQQQ', 0, mem, 0, 0) + bytes(24)
    return hdr + b''.join(secs)
open(os.path.join(d, 'state-1cpu'), 'wb').write(state(1))
open(os.path.join(d, 'state-2cpu'), 'wb').write(state(2))
open(os.path.join(d, 'manifest'), 'w').write('bulkhead-snapshot 1\nstate 7000 ' + 'ab' * 32 +
                                             '\nmemory 67108864 ' + '0f' * 32 + '\n')
PY
ls -l tests/fuzz/corpus/snap
# fuzz_vsock's driver scripts (corpus/vsock, format at the top of
# fuzz_vsock.c): a handshake each way, data, credit, shutdown, resets, the
# deadline tick, hostile headers.
mkdir -p tests/fuzz/corpus/vsock
python3 - tests/fuzz/corpus/vsock <<'PY'
import os, struct, sys
d = sys.argv[1]
def hdr(op, src=1024, dst=0x40000000, ln=0, typ=1, flags=0, buf=4096, fwd=0, cid=3, dcid=2):
    return struct.pack('<QQIIIHHIII', cid, dcid, src, dst, ln, typ, op, flags, buf, fwd)
def tx(h, payload=b''):
    return bytes([2]) + h + bytes([len(payload)]) + payload
start = bytes([1])
rx = lambda n=4, sz=255: bytes([3, n, sz])
conn = lambda port: bytes([5]) + struct.pack('<I', port)
peer = lambda data, p=0: bytes([6, p, len(data)]) + data
tick = lambda s: bytes([7, s])
seeds = {
    'h2g-echo': bytes([5]) + start + rx(6) + conn(1024) + tx(hdr(2, 1024, 0x40000000)) +
        peer(b'ping') + bytes([4, 0]) + tx(hdr(5, 1024, 0x40000000, 4), b'pong') +
        tx(hdr(4, 1024, 0x40000000, flags=3)) + rx(2),
    'g2h-refused': bytes([5]) + start + rx(4) + tx(hdr(1, 5555, 1024)) + tx(hdr(5, 5555, 1024, 3), b'abc'),
    'credit': bytes([5]) + start + rx(7, 4) + conn(7) + tx(hdr(2, 7, 0x40000000, buf=100)) +
        peer(b'x' * 200) + bytes([4, 0]) + tx(hdr(6, 7, 0x40000000, buf=100, fwd=100)) +
        tx(hdr(7, 7, 0x40000000)) + rx(3),
    'forged': bytes([5]) + start + rx(4) + conn(9) + tx(hdr(2, 9, 0x40000000)) +
        tx(hdr(5, 9, 0x40000000, 200), b'y' * 200) * 30,
    'hostile': bytes([5]) + start + rx(7) + tx(hdr(99)) + tx(hdr(5, ln=250)) +
        tx(hdr(1, typ=2)) + tx(b'\xff' + hdr(1)[1:]) + tx(hdr(1, dcid=7)) + tx(hdr(3)),
    'deadline': bytes([5]) + start + conn(1) + conn(2) + rx(1) + tick(11) + tick(30),
    'resets': bytes([5]) + start + rx(4) + conn(3) + bytes([8]) + start + rx(2) + conn(4) + bytes([9]) +
        bytes([4, 2]),
    'cap': bytes([5]) + start + rx(7) + conn(1) + conn(2) + conn(3) + conn(4) + conn(5) +
        tx(hdr(1, 10, 20)) + tx(hdr(1, 11, 21)),
}
for f, b in seeds.items():
    open(os.path.join(d, f), 'wb').write(b)
PY
ls -l tests/fuzz/corpus/vsock
