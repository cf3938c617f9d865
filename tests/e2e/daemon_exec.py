#!/usr/bin/env python3
"""daemon_exec.py — POST /v1/vms/{id}/exec and `bulkhead exec --vm`, no KVM.

    daemon_exec.py BULKHEADD STANDIN_VMM BULKHEAD BULKHEAD_AGENT

Runs the daemon (the ASan build in make check) as root with the host-side
stand-in VMM (standin_vmm.py), whose vsock socket answers "CONNECT 1024"
with the real guest agent (`bulkhead-agent --fd`, run on the host in the
guest's place: jobs as uid 1000, in a UTS namespace of their own). So the
whole path is real but the VM: the client, the daemon's checks and relay,
the agent protocol and the agent. Cases:
  errors: no such VM and another user's VM (404, the same words), a VM
    never started, paused, quarantined or without vsock (409), bad bodies
    (400), no Upgrade header (426), a guest whose agent never answers (504
    within connect_timeout_ms), a vsock socket swapped for another
    process's (502: nothing relayed to it);
  sessions: the program's status, stdout and stderr apart; a second
    command sees the first one's file; a second session while one is open
    (429) and the slot freed afterwards; --timeout ends the program (gone
    from the host) but not the VM; options that are the VM's refused (125);
    an unreachable daemon (125); a daemon stopped with a session open ends
    it and exits cleanly, without sanitizer reports.
The real guest end to end (an exec guest with bulkhead.agent=serve in a VM
of the daemon) is the exec suite's (tests/e2e/exec_suite.sh, nested).
Prints PASS/FAIL per case and "N passed, N failed".
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import e2e_daemon
from e2e_report import check

BHD, STANDIN, BH, AGENT = (os.path.abspath(a) for a in sys.argv[1:5])
T, SOCK, STATE, LOG = e2e_daemon.scratch("bhd-exec.")
SHARED = os.path.join(T, "shared")  # the "guest's" writable place (uid 1000)
NOBODY = 65534
daemon = None
STANDIN_COPY = os.path.join(T, "standin_vmm.py")
shutil.copy(STANDIN, STANDIN_COPY)
os.chmod(STANDIN_COPY, 0o755)
os.mkdir(SHARED)
os.chmod(SHARED, 0o1777)


def start_daemon():
    global daemon
    daemon = e2e_daemon.start(BHD, SOCK, STATE, LOG, STANDIN_COPY,
                              lambda: req("GET", "/v1/version")[0] == 200,
                              extra=("--switch-binary", BH))


def req(method, path, body=None, headers=None, timeout=30):
    """One request; (status, parsed JSON body or text)."""
    data = (body or "").encode()
    h = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)
    for k, v in (headers or {}).items():
        h += "%s: %s\r\n" % (k, v)
    if body is not None:
        h += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    st, b = e2e_daemon.exchange(SOCK, h.encode() + b"\r\n" + data, timeout)
    try:
        return st, json.loads(b.decode() or "null")
    except ValueError:
        return st, b.decode(errors="replace")


UP = {"Connection": "Upgrade", "Upgrade": "bulkhead-agent"}


def exec_req(vm, body=None, headers=UP, uid=None, timeout=30):
    if uid is None:
        return req("POST", "/v1/vms/%s/exec" % vm, body, headers, timeout)
    st, b = e2e_daemon.as_user(uid, lambda: list(req("POST", "/v1/vms/%s/exec" % vm, body,
                                                     headers, timeout)))
    return (0 if st == "exception" else st), b


def err(b):
    return b.get("error", "") if isinstance(b, dict) else str(b)


def config(vsock=True, agent=True, name="vm"):
    c = {"kernel": STANDIN_COPY, "mem": "64M", "cpus": 1,
         "cmdline": "mode=honest" + (" agent=" + AGENT if agent else ""),
         "console": {"mode": "none"}}
    if vsock:
        c["vsock"] = {"cid": 3, "socket": os.path.join(T, name + ".vsock")}
    return json.dumps(c)


def create(name, start=True, **kw):
    st, b = req("POST", "/v1/vms?name=" + name, config(name=name, **kw))
    if st != 201:
        raise RuntimeError("create %s: %d %r" % (name, st, b))
    if start:
        st, b = req("POST", "/v1/vms/%s/start" % name)
        if st != 200:
            raise RuntimeError("start %s: %d %r" % (name, st, b))
    return name


def bx(*args, timeout=60):
    """bulkhead exec --vm ...: (status, stdout, stderr, seconds)."""
    env = dict(os.environ, BULKHEAD_SOCKET=SOCK)
    t0 = time.monotonic()
    p = subprocess.run([BH, "exec"] + list(args), capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, env=env)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


def procs_with(word):
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if word in open("/proc/%s/cmdline" % d, "rb").read().decode(errors="replace"):
                    found.append(int(d))
            except OSError:
                pass
    return found


def test_errors():
    st, b = exec_req("nosuchvm")
    check("exec: no such VM is a 404", st == 404, "%d %r" % (st, b))
    missing = err(b).replace("nosuchvm", "X")
    create("sb")
    st, b = exec_req("sb", uid=NOBODY)
    check("exec: another user's VM is a 404 with the words of a missing one",
          st == 404 and err(b).replace("sb", "X") == missing, "%d %r vs %r" % (st, b, missing))
    create("idle", start=False)
    st, b = exec_req("idle")
    check("exec: a VM never started is a 409 naming its state",
          st == 409 and "created" in err(b) and "running" in err(b), "%d %r" % (st, b))
    create("novsock", vsock=False)
    st, b = exec_req("novsock")
    check("exec: a VM without a vsock device is a 409 saying so",
          st == 409 and "vsock" in err(b), "%d %r" % (st, b))
    for body, needle in (("[1]", "JSON object"), ('{"x": 1}', "unknown key"),
                         ('{"connect_timeout_ms": "5"}', "connect_timeout_ms"),
                         ('{"connect_timeout_ms": 999999}', "connect_timeout_ms"),
                         ('{"connect_timeout_ms": -1}', "connect_timeout_ms"), ("{", "JSON")):
        st, b = exec_req("sb", body)
        check("exec: bad body %s is a 400 naming the problem" % body,
              st == 400 and needle in err(b), "%d %r" % (st, b))
    st, b = exec_req("sb", headers={})
    check("exec: without Upgrade: bulkhead-agent a 426 saying what to send",
          st == 426 and "Upgrade" in err(b), "%d %r" % (st, b))
    st, b = req("POST", "/v1/vms/sb/pause")
    st, b = exec_req("sb")
    check("exec: a paused VM is a 409", st == 409 and "paused" in err(b), "%d %r" % (st, b))
    req("POST", "/v1/vms/sb/resume")
    create("quar")
    st, b = req("POST", "/v1/vms/quar/quarantine", '{"reason": "exec test"}')
    st2, b2 = exec_req("quar")
    check("exec: a quarantined VM refuses exec (409)",
          st == 200 and st2 == 409 and "quarantined" in err(b2), "%d; %d %r" % (st, st2, b2))
    create("deaf", agent=False)
    t0 = time.monotonic()
    st, b = exec_req("deaf", '{"connect_timeout_ms": 500}')
    took = time.monotonic() - t0
    check("exec: a guest whose agent never answers: 504 after connect_timeout_ms (%.1f s)" % took,
          st == 504 and "did not answer" in err(b) and took < 5, "%d %r" % (st, b))
    # A socket path swapped for another process's socket: never relayed to.
    create("swapped")
    path = os.path.join(T, "swapped.vsock")
    os.unlink(path)
    impostor = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    impostor.bind(path)
    impostor.listen(4)
    impostor.settimeout(0.5)
    st, b = exec_req("swapped")
    got = b""
    try:
        c, _ = impostor.accept()
        c.settimeout(0.5)
        try:
            got = c.recv(100)
        except OSError:
            pass
        c.close()
    except OSError:
        pass
    impostor.close()
    check("exec: a vsock socket that is not the VM's own process's: 502, nothing sent to it",
          st == 502 and "not" in err(b) and got == b"", "%d %r; impostor got %r" % (st, b, got))
    for vm in ("idle", "novsock", "quar", "deaf", "swapped"):
        req("POST", "/v1/vms/%s/kill" % vm)
        req("DELETE", "/v1/vms/%s" % vm)


def test_sessions():
    f = os.path.join(SHARED, "state")
    rc, out, er, _ = bx("--vm", "sb", "--", "sh", "-c",
                        "echo out-1; echo err-1 >&2; echo kept >%s; exit 3" % f)
    check("exec --vm: the program's status, stdout and stderr apart",
          rc == 3 and out == "out-1\n" and er == "err-1\n", "%d %r %r" % (rc, out, er))
    rc, out, er, took = bx("--vm", "sb", "--", "sh", "-c", "cat %s; id -u" % f)
    check("exec --vm: a second command sees the first one's file, as uid 1000 (%.0f ms)"
          % (took * 1000), rc == 0 and out == "kept\n1000\n", "%d %r %r" % (rc, out, er))
    env = dict(os.environ, BULKHEAD_SOCKET=SOCK)
    first = subprocess.Popen([BH, "exec", "--vm", "sb", "--", "sh", "-c", "sleep 2; echo done"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             stdin=subprocess.DEVNULL)
    time.sleep(0.7)
    rc, out, er, _ = bx("--vm", "sb", "--", "true")
    fo, fe = first.communicate(timeout=30)
    check("exec --vm: a second session while one is open: 125 with the daemon's 429",
          rc == 125 and "429" in er and "session" in er and first.returncode == 0 and
          fo == b"done\n", "%d %r; first %s %r %r" % (rc, er, first.returncode, fo, fe))
    rc, out, er, _ = bx("--vm", "sb", "--", "echo", "again")
    check("exec --vm: the session's slot is free once it ended", rc == 0 and out == "again\n",
          "%d %r %r" % (rc, out, er))
    rc, out, er, took = bx("--vm", "sb", "--timeout", "1s", "--", "sleep", "57.25")
    time.sleep(0.5)
    left = procs_with("57.25")
    rc2, out2, er2, _ = bx("--vm", "sb", "--", "echo", "alive")
    check("exec --vm --timeout: 124, the program is gone, the VM runs on",
          rc == 124 and not left and rc2 == 0 and out2 == "alive\n",
          "%d %r left %r; then %d %r %r" % (rc, er, left, rc2, out2, er2))
    rc, out, er, _ = bx("--vm", "sb", "--cpus", "2", "--", "true")
    check("exec --vm --cpus: refused (125), naming the option",
          rc == 125 and "--cpus does not go with --vm" in er, "%d %r" % (rc, er))
    rc, out, er, _ = bx("--vm", "sb", "--socket", os.path.join(T, "nothere.sock"), "--", "true")
    check("exec --vm: an unreachable daemon is 125 naming the socket",
          rc == 125 and "nothere.sock" in er, "%d %r" % (rc, er))
    rc, out, er, _ = bx("--vm", "nosuchvm", "--json-status", os.path.join(T, "st.json"), "--",
                        "true")
    js = json.load(open(os.path.join(T, "st.json")))
    check("exec --vm: the daemon's refusal is printed, 125, and in --json-status",
          rc == 125 and "404" in er and js.get("exit_code") == 125 and "404" in js.get("message", ""),
          "%d %r %r" % (rc, er, js))


def test_stop_with_session():
    env = dict(os.environ, BULKHEAD_SOCKET=SOCK)
    p = subprocess.Popen([BH, "exec", "--vm", "sb", "--", "sleep", "58.5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         stdin=subprocess.DEVNULL)
    time.sleep(1.0)
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=20)
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    time.sleep(0.5)
    log = open(LOG).read()
    check("exec: a daemon stopped with a session open ends it and exits cleanly, no "
          "sanitizer report", daemon.returncode == 0 and p.returncode == 125 and
          not procs_with("58.5") and "Sanitizer" not in log and "runtime error" not in log,
          "daemon rc %s, exec rc %s, left %r\n%s" % (daemon.returncode, p.returncode,
                                                     procs_with("58.5"), log[-2000:]))


def main():
    if os.geteuid() != 0:
        print("SKIP: daemon_exec needs root (jobs run as uid 1000, another uid's view)")
        print("0 passed, 0 failed")
        return 0
    start_daemon()
    e2e_daemon.run_cases((test_errors, test_sessions))
    test_stop_with_session()
    # the stand-in VMMs keep running after the daemon stops (as VMMs do)
    for d in os.listdir(os.path.join(STATE, "vms")):
        try:
            st = json.load(open(os.path.join(STATE, "vms", d, "state.json")))
            if st.get("pid"):
                os.kill(st["pid"], signal.SIGKILL)
        except (OSError, ValueError):
            pass
    return e2e_daemon.finish(T)


if __name__ == "__main__":
    e2e_daemon.run_main(main, lambda: daemon)
