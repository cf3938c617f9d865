#!/usr/bin/env python3
"""make_agent_seeds.py [DIR] — seed inputs for fuzz_agent (default
tests/fuzz/corpus/agent): valid frame streams as the host and the agent send
them (hello, a job, stdout data, an exit status, a tar header block), each
prefixed by piece-length bytes the target reads."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'agent')
os.makedirs(out, exist_ok=True)


def frame(stream, typ, payload=b''):
    return struct.pack('<IBBH', len(payload), stream, typ, 0) + payload


def rec(tag, value):
    return struct.pack('<HHI', tag, 0, len(value)) + value


job = (rec(1, b'/bin/sh') + rec(1, b'-c') + rec(1, b'echo hi') + rec(2, b'PATH=/bin') +
       rec(3, b'/tmp') + rec(4, struct.pack('<I', 1000)) + rec(5, struct.pack('<I', 1000)) +
       rec(6, struct.pack('<IIQQ', 4, 0, 0, 0)) + rec(8, struct.pack('<HH', 24, 80)) + rec(9, b''))
streams = {
    'hello_job': frame(0, 16, struct.pack('<I', 1)) + frame(0, 17, job),
    'run': frame(0, 18, struct.pack('<I', 42)) + frame(2, 1, b'hello\n') + frame(3, 1, b'err\n') +
           frame(2, 2) + frame(3, 2) + frame(0, 19, struct.pack('<IiII', 1, 3, 0, 0)),
    'control': frame(0, 26, bytes(range(64))) + frame(0, 27, struct.pack('<Q', 1700000000 * 10**9)) +
               frame(0, 24) + frame(0, 25, b'no such file') + frame(0, 20, struct.pack('<I', 2)) +
               frame(0, 21, struct.pack('<HH', 50, 132)),
    'copy': frame(0, 22, struct.pack('<II', 1000, 1000) + b'/tmp/in') + frame(4, 1, b'x' * 600) +
            frame(4, 2) + frame(0, 23, b'/tmp/out') + frame(0, 24, struct.pack('<Q', 2)),
}
for name, data in streams.items():
    # one piece-length byte (255 = 256 bytes) before every 256 bytes
    pieced = b''.join(b'\xff' + data[i:i + 256] for i in range(0, len(data), 256))
    with open(os.path.join(out, name), 'wb') as f:
        f.write(pieced)
# a ustar header block for the tar parser
hdr = bytearray(512)
hdr[0:5] = b'a.txt'
hdr[100:108] = b'0000644\0'
hdr[124:136] = b'00000000005\0'
hdr[156] = ord('0')
hdr[257:263] = b'ustar\0'
hdr[263:265] = b'00'
hdr[148:156] = b' ' * 8
hdr[148:156] = ('%06o\0 ' % sum(hdr)).encode()
with open(os.path.join(out, 'tar_header'), 'wb') as f:
    f.write(bytes(hdr) + b'hello' + bytes(507) + bytes(1024))
