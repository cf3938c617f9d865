#!/usr/bin/env python3
"""check-layers.py SRC_DIR [STAMP] — the layout is the architecture.

Every `#include "folder/..."` in src/FOLDER must name the same folder or one
the table below allows (docs/architecture.md, rule 1: lower layers never
include higher ones). The build runs this on every source change and fails
on a violation, naming the file, the line and the rule; the per-layer static
libraries (meson.build) catch calls that run upward at link time.

It also holds rule 3's "no exit() below main": outside comments and strings,
no call of exit, _exit, _Exit, quick_exit or abort in a file of src/ that
does not define main(), but in the one audited place, common/proc_child.c
(the end of a forked child; its header says why that is _exit).
"""
import os
import re
import sys

# folder -> folders it may include (besides itself). Lowest first.
ALLOWED = {
    'common':   [],
    'core':     ['common'],
    'arch':     ['common', 'core'],
    'bus':      ['common', 'core', 'arch'],
    'devices':  ['common', 'core', 'arch', 'bus'],
    'backends': ['common', 'core', 'ctl'],
    'virtio':   ['common', 'core', 'arch', 'bus', 'backends', 'ctl'],
    'config':   ['common', 'core', 'arch', 'bus', 'backends', 'virtio'],
    'ctl':      ['common'],
    # the host<->guest-agent protocol: the static agent compiles it alone
    'agentproto': [],
    # frames: parsing, port security, egress policy, token buckets (pure)
    'net':      ['common'],
    # the switch process: ports, learning, security, rates (its jail is sandbox's)
    'switch':   ['common', 'net', 'ctl'],
    # the snapshot format: header, sections, parser, manifest
    'snapshot': ['common', 'core'],
    'sandbox':  ['common', 'core', 'config'],
    'vmm':      ['common', 'core', 'arch', 'bus', 'devices', 'backends', 'virtio',
                 'config', 'ctl', 'sandbox', 'net', 'snapshot'],
    # (switch: passt.c only, to start a network's uplink)
    'daemon':   ['common', 'config', 'ctl', 'net', 'snapshot', 'switch'],
    'api':      ['common', 'config', 'ctl', 'daemon', 'net', 'agentproto'],  # exec: the agent's port
    'cli':      ['common', 'config', 'ctl', 'sandbox', 'vmm', 'net', 'snapshot', 'switch', 'agentproto'],
    # bulkheadd's main(): the composition root that wires the HTTP adapter
    # onto the daemon (a folder of its own, so nothing runs back up).
    'bulkheadd': ['common', 'config', 'ctl', 'daemon', 'api', 'net'],
}
EXCEPTIONS = set()

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_]+)/')

# Rule 3: a process ends in main (a status returned up to it) or, for a
# forked child, in common/proc_child.c; nowhere else.
EXIT_CALL = re.compile(r'(?<![A-Za-z0-9_.>])(exit|_exit|_Exit|quick_exit|abort)\s*\(')
DEFINES_MAIN = re.compile(r'^\s*int\s+main\s*\(', re.M)
EXIT_ALLOWED = {'common/proc_child.c'}
# comments, string and character literals (blanked, newlines kept)
NOT_CODE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def exit_calls(rel, text):
    """Rule 3's violations in one file: (line, call) pairs."""
    if rel in EXIT_ALLOWED:
        return []
    code = NOT_CODE.sub(lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text)
    if DEFINES_MAIN.search(code):
        return []
    return [(lineno, m.group(1)) for lineno, line in enumerate(code.split('\n'), 1)
            for m in EXIT_CALL.finditer(line)]


def main():
    src = sys.argv[1]
    errors = []
    for folder in sorted(os.listdir(src)):
        top = os.path.join(src, folder)
        if not os.path.isdir(top):
            continue
        if folder not in ALLOWED:
            errors.append(f'src/{folder}/: a folder the layer table does not know '
                          '(add it to scripts/check-layers.py and docs/architecture.md)')
            continue
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith(('.c', '.h')):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, src)
                with open(path, encoding='utf-8') as f:
                    text = f.read()
                for lineno, call in exit_calls(rel, text):
                    errors.append(f'src/{rel}:{lineno}: {call}() below main (rule 3): return '
                                  'a status up to main, or end a forked child with '
                                  'common/proc_child.h')
                for lineno, line in enumerate(text.split('\n'), 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    if target == folder or target in ALLOWED[folder]:
                        continue
                    if (rel, target) in EXCEPTIONS:
                        continue
                    errors.append(f'src/{rel}:{lineno}: includes {target}/, a layer '
                                  f'src/{folder}/ may not depend on (allowed: '
                                  f'{", ".join(ALLOWED[folder]) or "none"})')
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    if len(sys.argv) > 2:
        with open(sys.argv[2], 'w') as f:
            f.write('ok\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
