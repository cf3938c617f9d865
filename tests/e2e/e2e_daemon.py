"""e2e_daemon.py — the bulkheadd harness shared by the daemon's e2e scripts
(daemon_api.py, daemon_exec.py, daemon_hostile.py): their scratch directory,
the daemon started in it under the sanitizers, one request and its reply,
requests as another uid, the
cases run so that one crashing does not stop the rest, the summary and the
cleanup on the way out.
Imported from the scripts' own directory (sys.path[0]), like e2e_report.py.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from e2e_report import bad, results

# Sanitizer reports end the daemon at once (and fail the case that saw it).
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


def scratch(prefix):
    """A new scratch directory (mode 0755: the uids a script switches to
    reach the daemon's socket and files) and the daemon's paths in it:
    (dir, api socket, state dir, daemon log)."""
    t = tempfile.mkdtemp(prefix=prefix)
    os.chmod(t, 0o755)
    return (t, os.path.join(t, "api.sock"), os.path.join(t, "state"),
            os.path.join(t, "daemon.log"))


def start(bhd, sock, state, log, vmm, ready, extra=(), asan_extra=""):
    """Start bulkheadd `bhd` on `sock` with `state` and VMM `vmm`, socket
    mode 0666, a 1 s stop timeout, a 2 s client timeout and `extra`
    arguments, its output appended to `log`; ASAN_OPTIONS gets ":asan_extra"
    when given. Waits (10 s at most) for the socket to exist and `ready()`
    to be true (an OSError counts as not yet); returns the Popen, or raises
    SystemExit with the daemon's log."""
    env = dict(os.environ, **SAN_ENV)
    if asan_extra:
        env["ASAN_OPTIONS"] += ":" + asan_extra
    daemon = subprocess.Popen([bhd, "--socket", sock, "--state-dir", state, "--vmm", vmm,
                               "--socket-mode", "0666", "--stop-timeout", "1",
                               "--client-timeout", "2"] + list(extra),
                              stdout=open(log, "a"), stderr=subprocess.STDOUT, env=env)
    for _ in range(200):
        if os.path.exists(sock):
            try:
                if ready():
                    return daemon
            except OSError:
                pass
        time.sleep(0.05)
    raise SystemExit("daemon did not come up:\n" + open(log).read())


def exchange(path, data, timeout=30):
    """Send `data` (a whole request) on a new connection to the unix socket
    `path` and read the reply: its head and a body of its Content-Length,
    or only the head of a 101 (what follows is another protocol's), or up
    to EOF or `timeout` seconds. (status, body bytes); status 0 when no
    status line came."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(data)
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            head, sep, rest = buf.partition(b"\r\n\r\n")
            m = re.search(rb"content-length:\s*(\d+)", head, re.I)
            if sep and (head.startswith(b"HTTP/1.1 101") or (m and len(rest) >= int(m.group(1)))):
                break
    except socket.timeout:
        pass
    s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
    return (int(m.group(1)) if m else 0), buf.partition(b"\r\n\r\n")[2]


def as_user(uid, fn, *a):
    """Run fn(*a) in a forked child with uid and gid `uid` (no groups) and
    return its result, passed back as JSON (so a JSON value); a child that
    raised returns ["exception", repr]. The child never returns into the
    caller's code."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            # Threads fork concurrently: a sibling's pipe may have been open
            # at this fork. Holding its write end would keep that sibling's
            # reader from seeing EOF until this child exits (a long poll of
            # another user made a 0.1 s reply look like 9.5 s).
            os.closerange(3, w)
            os.closerange(w + 1, 4096)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            out = json.dumps(fn(*a))
        except BaseException as e:  # report, never fall through into the parent's code
            out = json.dumps(["exception", repr(e)])
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data.decode())


def run_cases(cases):
    """Run each case function; one that raises is a failure under its name
    (with its traceback printed) and the rest still run."""
    for t in cases:
        try:
            t()
        except Exception as e:  # a crashed case is a failure, the rest still run
            traceback.print_exc()
            bad(t.__name__, repr(e))


def finish(t):
    """Print the summary line; remove the scratch directory `t` when all
    passed, else keep it (and say where) for the logs. The exit status."""
    print("%d passed, %d failed" % (results["pass"], results["fail"]))
    if not results["fail"]:
        shutil.rmtree(t, ignore_errors=True)
    else:
        print("logs kept in " + t)
    return 1 if results["fail"] else 0


def run_main(main, daemon_of):
    """sys.exit(main()), killing the daemon (daemon_of(): the current Popen
    or None) if it still runs however main ended."""
    try:
        sys.exit(main())
    finally:
        daemon = daemon_of()
        if daemon and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
