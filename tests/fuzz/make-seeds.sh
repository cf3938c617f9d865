#!/usr/bin/env bash
# make-seeds.sh [BUILD_DIR] — regenerate the committed fuzz_boot seed corpus
# (tests/fuzz/corpus/boot) with make_seeds, and the virtio ones
# (corpus/virtq, corpus/blk) with make_virtio_seeds, from a -Dfuzz=true build
# (default build-fuzz). Seeds are small crafted kernels (< 64 KiB each).
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build-fuzz}"
ninja -C "$build" tests/fuzz/make_seeds tests/fuzz/make_virtio_seeds
mkdir -p tests/fuzz/corpus/boot
"$build/tests/fuzz/make_seeds" tests/fuzz/corpus/boot
ls -l tests/fuzz/corpus/boot
# fuzz_virtq / fuzz_blk scripts (corpus/virtq, corpus/blk)
"$build/tests/fuzz/make_virtio_seeds" tests/fuzz/corpus
ls -l tests/fuzz/corpus/virtq tests/fuzz/corpus/blk
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
