#!/usr/bin/env python3
"""daemon_hostile.py — bulkheadd against hostile VMMs and greedy users.

    daemon_hostile.py BULKHEADD STANDIN_VMM BULKHEAD

Runs the daemon (the ASan build in make check) as root with a host-side
stand-in VMM (standin_vmm.py: the real control protocol, chosen misbehaviour)
and checks issue 15's guarantees, each case named by the finding it covers:
  1 deadlines: a SIGSTOPped VMM costs its owner a bounded 5xx (inspect, pause,
    stop, a full listen backlog), never anyone else a hang; kill still works;
    a reply out of turn or malformed drops the connection
  2 limits: a non-root user's VM runs in the daemon's per-VM cgroup with the
    expected memory/CPU/pids limits, and one allocating without bound is
    contained; a daemon that can apply no limit starts no VM
  3 quarantine from outside: a VMM that lies about pausing is frozen anyway
  4 nothing a user writes is trusted: config.json stays root's, the console
    cap is the daemon's, the VMM's stderr is capped
  5 fair shares: per-uid VM, memory, connection and follow caps with room for
    root and other users; a slow loris is cut; another user's VM is a 404
  6 no leaks: kill cycles leave no cgroup, state, process or fd; a restarted
    daemon sweeps the cgroups of VMs that died meanwhile
  7 CPU allocation: dedicated cores never shared, other VMs kept off them,
    cpu.weight in the VM's cgroup
  8 events: a long poll returns on the caller's own events only; `bulkhead
    events [-f]` prints them
  9 snapshots: of another user's VM a 404; malformed bodies; the daemon's
    files stay root's, readable (never writable) by the owner only; the cap
    per VM; a VM made from a snapshot runs (or starts paused); from_snapshot
    sources that traverse, are unreadable for the caller or another user's
    are refused; quarantine leaves a forensic snapshot that restores paused
  11 networks (issue 11): stand-ins exchange frames through the ports the
    daemon made (same network only), inspect and /metrics show the counters,
    a spoofing VM is counted or quarantined and cut off by its on_violation,
    a VM's port goes with it, another user's network is out of reach
Prints PASS/FAIL per case and "N passed, N failed".
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import e2e_daemon
from e2e_report import bad, check

BHD, STANDIN, BH = (os.path.abspath(a) for a in sys.argv[1:4])
T, SOCK, STATE, LOG = e2e_daemon.scratch("bhd-hostile.")
NOBODY, OTHER = 65534, 65533
CTL_MS = 1000          # --control-timeout
DEADLINE = 2 * CTL_MS / 1000 + 3.0  # inspect/pause answer bound (freeze included), seconds
daemon = None
STANDIN_COPY = os.path.join(T, "standin_vmm.py")  # readable by every uid
shutil.copy(STANDIN, STANDIN_COPY)
os.chmod(STANDIN_COPY, 0o755)


def start_daemon(extra=()):
    global daemon
    # A small ASan quarantine, so the RSS check sees leaks, not freed memory.
    daemon = e2e_daemon.start(BHD, SOCK, STATE, LOG, STANDIN_COPY,
                              lambda: req("GET", "/v1/version")[0] == 200,
                              extra=["--control-timeout", str(CTL_MS),
                                     "--max-vms-per-user", "3", "--max-mem-per-user", "512M",
                                     "--max-conns-per-user", "4", "--max-follows-per-user", "1",
                                     "--console-max", "1M", "--vmm-log-max", "64K",
                                     "--switch-binary", BH] + list(extra),
                              asan_extra="quarantine_size_mb=4")


def raw(data, timeout=30, path=None):
    return e2e_daemon.exchange(path or SOCK, data, timeout)


def req(method, path, body=None, timeout=30, sock=None):
    data = (body or "").encode()
    h = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % (method, path)
    if body is not None:
        h += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    st, b = raw(h.encode() + b"\r\n" + data, timeout, sock)
    try:
        return st, json.loads(b.decode() or "null")
    except ValueError:
        return st, b.decode(errors="replace")


def ureq(uid, method, path, body=None, timeout=30):
    return e2e_daemon.as_user(uid, lambda: list(req(method, path, body, timeout)))


def timed(fn, *a):
    t0 = time.monotonic()
    r = fn(*a)
    return r, time.monotonic() - t0


def config(mode="honest", mem="64M", extra=None):
    c = {"kernel": STANDIN_COPY, "mem": mem, "cpus": 1, "cmdline": "mode=" + mode,
         "console": {"mode": "none"}}
    c.update(extra or {})
    return json.dumps(c)


def with_disk(d, path):
    """Rewrite snapshot directory d (a standin's) so its recorded
    configuration names a disk at `path`: the state's configuration section
    and the manifest's size and SHA-256 of the state."""
    import hashlib
    import struct
    st = open(os.path.join(d, "state"), "rb").read()
    out, off = st[:128], 128
    while off < len(st):
        t, i, v, r, n = struct.unpack("<IIIIQ", st[off:off + 24])
        body = st[off + 24:off + 24 + n]
        if t == 1:
            c = json.loads(body)
            c["disks"] = [{"path": path, "read_only": True}]
            body = json.dumps(c).encode()
        out += struct.pack("<IIIIQ", t, i, v, r, len(body)) + body
        off += 24 + n
    open(os.path.join(d, "state"), "wb").write(out)
    man = open(os.path.join(d, "manifest")).read().splitlines()
    man = [("state %d %s" % (len(out), hashlib.sha256(out).hexdigest())) if l.startswith("state ")
           else l for l in man]
    open(os.path.join(d, "manifest"), "w").write("\n".join(man) + "\n")


def create_start(uid, mode="honest", mem="64M", name=None):
    q = "?name=" + name if name else ""
    st, b = ureq(uid, "POST", "/v1/vms" + q, config(mode, mem))
    if st != 201:
        return None, "create %d %r" % (st, b)
    vid = b["id"]
    st, b = ureq(uid, "POST", "/v1/vms/%s/start" % vid)
    if st != 200:
        return vid, "start %d %r" % (st, b)
    return vid, ""


def inspect(vid, uid=0):
    return ureq(uid, "GET", "/v1/vms/" + vid) if uid else req("GET", "/v1/vms/" + vid)


def vm_pids(vid):
    """Host pids of the VM's processes, from its memory cgroup."""
    d = vm_cgroup_dir(vid)
    if not d:
        return []
    with open(os.path.join(d, "cgroup.procs")) as f:
        return [int(x) for x in f.read().split()]


def cg_base():
    name = open(os.path.join(STATE, "cgroup-name")).read().strip()
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return 2, {"memory": "/sys/fs/cgroup/" + name}
    bases = {}
    for line in open("/proc/self/cgroup"):
        _, ctrls, path = line.strip().split(":", 2)
        for c in ctrls.split(","):
            if c in ("cpu", "memory", "pids", "freezer"):
                bases[c] = "/sys/fs/cgroup/%s%s/%s" % (c, "" if path == "/" else path, name)
    return 1, bases


def vm_cgroup_dir(vid, ctrl="memory"):
    ver, bases = cg_base()
    d = os.path.join(bases.get(ctrl if ver == 1 else "memory", "/nonexistent"), "bulkhead-vm-" + vid)
    return d if os.path.isdir(d) else None


def ticks(vid):
    try:
        return open(os.path.join(STATE, "vms", vid, "console.log")).read().count("tick")
    except OSError:
        return -1


def wait_for(cond, secs=10.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def kill_rm(vid, uid=0):
    ureq(uid, "POST", "/v1/vms/%s/kill" % vid) if uid else req("POST", "/v1/vms/%s/kill" % vid)
    wait_for(lambda: inspect(vid, uid)[1].get("state") == "exited", 10)
    return (ureq(uid, "DELETE", "/v1/vms/" + vid) if uid else req("DELETE", "/v1/vms/" + vid))[0]


# ---------------------------------------------------------------------------

def test_limits():
    vid, why = create_start(NOBODY, "honest", "64M", "lim")
    check("2: a non-root user's stand-in VM starts", not why, why)
    if why:
        return
    st, b = inspect(vid, NOBODY)
    pid = b.get("pid", 0)
    cg = open("/proc/%d/cgroup" % pid).read()
    ver, bases = cg_base()
    want = "bulkhead-vm-" + vid
    check("2: its VMM runs as uid %d" % NOBODY, os.stat("/proc/%d" % pid).st_uid == NOBODY,
          "uid %d" % os.stat("/proc/%d" % pid).st_uid)
    check("2: its VMM is in the daemon's per-VM cgroup from the start (%s)" % want,
          want in cg and all(want in l for l in cg.splitlines()
                             if re.match(r"^\d+:(memory|pids|cpu)(,|:)|^0::", l) and
                             (ver == 2 or not l.startswith("0::"))), cg)
    mem = 64 << 20
    if ver == 1:
        d = vm_cgroup_dir(vid)
        lim = int(open(os.path.join(d, "memory.limit_in_bytes")).read())
        pids = open(os.path.join(vm_cgroup_dir(vid, "pids"), "pids.max")).read().strip()
        quota = int(open(os.path.join(vm_cgroup_dir(vid, "cpu"), "cpu.cfs_quota_us")).read())
        owner = os.stat(os.path.join(d, "cgroup.procs")).st_uid
    else:
        d = vm_cgroup_dir(vid)
        lim = int(open(os.path.join(d, "memory.max")).read())
        pids = open(os.path.join(d, "pids.max")).read().strip()
        quota = int(open(os.path.join(d, "cpu.max")).read().split()[0])
        owner = os.stat(os.path.join(d, "cgroup.procs")).st_uid
    check("2: limits: memory = guest RAM + 256 MiB, pids = vCPUs + 16, CPU = vCPUs + 1",
          lim == mem + (256 << 20) and pids == "17" and quota == 200000,
          "memory %d pids %s quota %d" % (lim, pids, quota))
    check("2: the cgroup's files stay root's (the VMM cannot raise a limit or leave)",
          owner == 0, "owner %d" % owner)
    log = open(os.path.join(STATE, "vms", vid, "vmm.log")).read()
    check("4: the VMM reads a sealed copy of its config, not the daemon's file",
          "--config /proc/self/fd/4" in log and "daemon-config unreadable" in log, log[-600:])
    cst = os.stat(os.path.join(STATE, "vms", vid, "config.json"))
    check("4: the daemon's config.json stays root's, mode 0600", cst.st_uid == 0 and
          (cst.st_mode & 0o777) == 0o600, "uid %d mode %o" % (cst.st_uid, cst.st_mode & 0o777))
    check("4: the console cap is the daemon's (--console-max 1048576 passed)",
          "--console-max 1048576" in log, log[-600:])
    kill_rm(vid, NOBODY)

    # allocating without bound: the memory cgroup contains it
    vid, why = create_start(NOBODY, "alloc", "64M", "hog")
    check("2: a VMM allocating without bound starts", not why, why)
    if vid:
        wait_for(lambda: inspect(vid, NOBODY)[1].get("state") == "exited", 60)
        st, b = inspect(vid, NOBODY)
        log = open(os.path.join(STATE, "vms", vid, "vmm.log")).read()
        most = max([int(x) for x in re.findall(r"allocated (\d+) MiB", log)] or [0])
        check("2: ... is killed by its memory limit (%d MiB reached, limit 320 MiB)" % most,
              b.get("state") == "exited" and b.get("exit", {}).get("signal") == 9 and
              0 < most <= 320, "%r" % b)
        check("2: ... and its cgroup is gone with it", wait_for(lambda: vm_cgroup_dir(vid) is None, 5),
              vm_cgroup_dir(vid) or "")
        ureq(NOBODY, "DELETE", "/v1/vms/" + vid)

    # a daemon that can apply no limit (not root) starts no VM
    t2 = os.path.join(T, "unpriv")
    os.makedirs(t2)
    os.chown(t2, NOBODY, NOBODY)
    sock2 = os.path.join(t2, "api.sock")
    p = subprocess.Popen(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                          "--clear-groups", BHD, "--socket", sock2, "--state-dir",
                          os.path.join(t2, "state"), "--vmm", STANDIN_COPY],
                         stdout=open(os.path.join(t2, "log"), "w"), stderr=subprocess.STDOUT,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    try:
        wait_for(lambda: os.path.exists(sock2), 10)
        def unpriv():
            st, b = req("POST", "/v1/vms", config(), sock=sock2)
            st2, b2 = req("POST", "/v1/vms/%s/start" % b["id"], sock=sock2)
            return [st2, b2]
        st, b = e2e_daemon.as_user(NOBODY, unpriv)
        check("2: no limit can be applied (daemon not root): start refused, 503 naming why",
              st == 503 and "no memory limit" in str(b), "%r %r" % (st, b))
    finally:
        p.kill()
        p.wait()


def test_deadlines():
    mine, why = create_start(NOBODY, "honest", "64M", "stuck")
    other, why2 = create_start(OTHER, "honest", "64M", "fine")
    check("1: two users' VMs start", not why and not why2, why + why2)
    if why or why2:
        return
    for p in vm_pids(mine):
        os.kill(p, signal.SIGSTOP)  # as its owner could
    worst = 0.0
    codes = set()
    for _ in range(8):  # more than the VMM's listen backlog (4)
        (st, b), dt = timed(inspect, mine, NOBODY)
        worst = max(worst, dt)
        codes.add(st)
    check("1: inspect of a SIGSTOPped VMM answers within the deadline, 8 times "
          "(backlog full; worst %.2f s)" % worst,
          worst < DEADLINE and codes == {200}, "codes %r worst %.2f" % (codes, worst))
    # meanwhile the other user and root are served at once
    lat = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                inspect(mine, NOBODY)
            except (OSError, ValueError):
                pass

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    for _ in range(5):
        (st, b), dt = timed(inspect, other, OTHER)
        lat.append((st, dt))
        (st, b), dt = timed(req, "GET", "/v1/vms")
        lat.append((st, dt))
    stop.set()
    for t in threads:
        t.join()
    check("1: while its owner hammers the hung VM, another user's inspect and root's list "
          "answer at once (worst %.2f s)" % max(d for _, d in lat),
          all(s == 200 for s, _ in lat) and max(d for _, d in lat) < 1.5, "%r" % lat)
    (st, b), dt = timed(ureq, NOBODY, "POST", "/v1/vms/%s/pause" % mine)
    check("1+3: pause of a hung VMM: answered in %.2f s, frozen from outside, state paused" % dt,
          dt < DEADLINE and st == 200 and b.get("state") == "paused" and "frozen" in
          str(b.get("result")), "%d %r" % (st, b))
    (st, b), dt = timed(ureq, NOBODY, "POST", "/v1/vms/%s/resume" % mine)
    check("1: resume of a hung VMM: a 5xx within the deadline (%.2f s), still paused" % dt,
          dt < DEADLINE and st in (502, 504) and inspect(mine, NOBODY)[1].get("state") == "paused",
          "%d %r" % (st, b))
    (st, b), dt = timed(ureq, NOBODY, "POST", "/v1/vms/%s/stop" % mine)
    check("1: stop of a hung VMM ends it (%.2f s): %s" % (dt, b.get("result") if isinstance(b, dict) else b),
          st == 200 and b.get("state") == "exited", "%d %r" % (st, b))
    kill_rm(mine, NOBODY)

    # kill of a SIGSTOPped, running VMM
    vid, why = create_start(NOBODY, "honest", "64M", "stuck2")
    for p in vm_pids(vid):
        os.kill(p, signal.SIGSTOP)
    (st, b), dt = timed(ureq, NOBODY, "POST", "/v1/vms/%s/kill" % vid)
    check("1: kill of a SIGSTOPped VMM works (%.2f s)" % dt,
          st == 200 and b.get("state") == "exited", "%d %r" % (st, b))
    ureq(NOBODY, "DELETE", "/v1/vms/" + vid)

    # replies out of turn, and malformed ones
    for mode, needle in (("badseq", "out of turn"), ("garbage", "bad control reply")):
        vid, why = create_start(NOBODY, mode, "64M", mode)
        st, b = inspect(vid, NOBODY) if vid else (0, {})
        check("1: a VMM answering %s: start refused (502 naming it), the VM killed" % mode,
              "start 502" in why and needle in why and "killed" in why and
              inspect(vid, NOBODY)[1].get("state") == "exited", why)
        if vid:
            kill_rm(vid, NOBODY)
    kill_rm(other, OTHER)


def test_quarantine():
    vid, why = create_start(NOBODY, "lie", "64M", "liar")
    check("3: a lying VMM starts", not why, why)
    if why:
        return
    wait_for(lambda: ticks(vid) > 5, 5)
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/pause" % vid)
    n0 = ticks(vid)
    time.sleep(1.0)
    n1 = ticks(vid)
    check("3: pause of a VMM that says 'paused' and keeps running: it is frozen (ticks %d -> %d)"
          % (n0, n1), st == 200 and b.get("state") == "paused" and n0 == n1 and n0 > 0,
          "%d %r" % (st, b))
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/resume" % vid)
    check("3: resume thaws it (ticks advance again)", st == 200 and
          wait_for(lambda: ticks(vid) > n1 + 3, 5), "%d %r ticks %d" % (st, b, ticks(vid)))
    # quarantine of a paused (frozen) VM: thawed only for its VMM to write the
    # forensic snapshot (a pause must not evade the evidence), frozen again
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/pause" % vid)
    (st, b), dt = timed(req, "POST", "/v1/vms/%s/quarantine" % vid, json.dumps({"reason": "paused"}))
    n0 = ticks(vid)
    time.sleep(0.5)
    check("3: quarantine of a paused VM: at once (%.2f s), forensic snapshot taken, frozen again "
          "(ticks %d -> %d)" % (dt, n0, ticks(vid)),
          st == 200 and b.get("state") == "quarantined" and dt < 1.0 and
          b.get("forensic_snapshot") and ticks(vid) == n0, "%d %r" % (st, b))
    kill_rm(vid, NOBODY)
    vid, why = create_start(NOBODY, "lie", "64M", "liar")
    wait_for(lambda: ticks(vid) > 5, 5)
    st, b = req("POST", "/v1/vms/%s/quarantine" % vid, json.dumps({"reason": "test: lies"}))
    n0 = ticks(vid)
    time.sleep(1.0)
    n1 = ticks(vid)
    check("3: quarantine of a lying VMM: recorded only once frozen (ticks %d -> %d)" % (n0, n1),
          st == 200 and b.get("state") == "quarantined" and n0 == n1, "%d %r" % (st, b))
    st, b = inspect(vid)
    check("3: inspect of the quarantined VM answers (frozen: no control round-trip)",
          st == 200 and b.get("frozen") is True, "%d %r" % (st, b))
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/resume" % vid)
    check("3: its owner cannot resume it (409)", st == 409, "%d %r" % (st, b))
    pids = vm_pids(vid)
    for p in pids:  # SIGCONT cannot undo a freezer
        os.kill(p, signal.SIGCONT)
    time.sleep(0.5)
    check("3: SIGCONT by its owner does not wake it", ticks(vid) == n1, "%d" % ticks(vid))
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/kill" % vid)
    check("3: a frozen VM can be killed", st == 200 and b.get("state") == "exited", "%d %r" % (st, b))
    ureq(NOBODY, "DELETE", "/v1/vms/" + vid)


def test_untrusted_files():
    st, b = ureq(NOBODY, "POST", "/v1/vms", config(extra={"console": {"mode": "none", "max": "2G"}}))
    check("4: a console cap above the daemon's maximum is refused (422 naming console.max)",
          st == 422 and "console.max" in str(b), "%d %r" % (st, b))
    vid, why = create_start(NOBODY, "flood", "64M", "flood")
    if vid:
        size = os.path.getsize(os.path.join(STATE, "vms", vid, "vmm.log"))
        log = open(os.path.join(STATE, "vms", vid, "vmm.log")).read()
        kill_rm(vid, NOBODY)
        log = open(os.path.join(STATE, "vms", vid, "vmm.log")).read() if os.path.exists(
            os.path.join(STATE, "vms", vid, "vmm.log")) else log
    check("4: a VMM flooding stderr (4 MiB) fills vmm.log only to its cap (64 KiB: %d bytes)"
          % (size if vid else -1), vid and 60 * 1024 <= size <= 64 * 1024 + 200, why)


def test_fair_shares():
    # another user's VM is a 404, exactly like a missing one
    st, b = req("POST", "/v1/vms?name=rootvm", config())
    rootvm = b.get("id")
    st1, b1 = ureq(NOBODY, "GET", "/v1/vms/" + rootvm)
    st2, b2 = ureq(NOBODY, "GET", "/v1/vms/ffffffff")
    check("5: another user's VM is a 404, same words as a missing one",
          st1 == 404 and st2 == 404 and "uid" not in str(b1) and
          str(b1).replace(rootvm, "X") == str(b2).replace("ffffffff", "X"), "%r %r" % (b1, b2))
    st, b = ureq(NOBODY, "POST", "/v1/vms?name=rootvm", config())
    check("5: names are per user (no VM name of root is revealed)", st == 201, "%d %r" % (st, b))
    mine = [b.get("id")]
    # VM and memory caps (3 VMs, 512 MiB)
    st, b = ureq(NOBODY, "POST", "/v1/vms", config(mem="512M"))
    check("5: memory cap: 64 + 512 MiB > 512 MiB per user -> 429", st == 429 and "MiB" in str(b),
          "%d %r" % (st, b))
    for _ in range(2):
        st, b = ureq(NOBODY, "POST", "/v1/vms", config())
        mine.append(b.get("id"))
    st, b = ureq(NOBODY, "POST", "/v1/vms", config())
    check("5: VM cap: a 4th VM -> 429 naming the cap", st == 429 and "3 VMs" in str(b), "%d %r" % (st, b))
    st, b = ureq(OTHER, "POST", "/v1/vms", config())
    check("5: another user still creates VMs", st == 201, "%d %r" % (st, b))
    other = b.get("id")
    st, b = req("POST", "/v1/vms", config())
    check("5: root still creates VMs", st == 201, "%d %r" % (st, b))
    req("DELETE", "/v1/vms/" + b.get("id", "x"))
    for v in mine:
        ureq(NOBODY, "DELETE", "/v1/vms/" + v)
    ureq(OTHER, "DELETE", "/v1/vms/" + other)
    req("DELETE", "/v1/vms/" + rootvm)

    # connection cap (4 per user): nobody holds 4 half-sent requests
    def hold_and_try():
        held = []
        for _ in range(4):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(SOCK)
            s.sendall(b"GET /v1/vms HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        time.sleep(0.2)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(SOCK)
        buf = b""
        try:
            s.sendall(b"GET /v1/vms HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass  # refused before it could send: the 429 is waiting
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
        for h in held + [s]:
            h.close()
        m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
        return [int(m.group(1)) if m else 0, buf.decode(errors="replace")]

    r, w = os.pipe()
    res = {}

    def run_hold():
        res["v"] = e2e_daemon.as_user(NOBODY, hold_and_try)

    t = threading.Thread(target=run_hold)
    t.start()
    time.sleep(0.1)
    t.join()
    st, b = res["v"]
    check("5: a user's 5th concurrent connection -> 429 naming the cap", st == 429 and
          "connections" in str(b), "%r %r" % (st, b))

    # many users' connections: root keeps its reserve
    def crowd(uid, n, out):
        def hold():
            held = []
            for _ in range(n):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(SOCK)
                s.sendall(b"GET /v1/vms HTTP/1.1\r\n")
                held.append(s)
            time.sleep(1.5)
            return len(held)
        out.append(e2e_daemon.as_user(uid, hold))

    outs = []
    crowds = [threading.Thread(target=crowd, args=(60000 + i, 4, outs)) for i in range(15)]
    for c in crowds:
        c.start()
    time.sleep(0.8)
    (st, b), dt = timed(req, "GET", "/v1/vms")
    for c in crowds:
        c.join()
    check("5: 15 users x 4 idle connections (60 > 56 for users): root is still served (%.2f s)" % dt,
          st == 200 and dt < 1.5, "%d %r" % (st, b))

    # slow loris: one byte a second is cut after 3 x --client-timeout (6 s)
    def loris():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCK)
        t0 = time.monotonic()
        for ch in b"GET /v1/vms HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            try:
                s.send(bytes([ch]))
            except OSError:
                return time.monotonic() - t0
            s.settimeout(1.0)
            try:
                if s.recv(1) == b"":
                    return time.monotonic() - t0
            except socket.timeout:
                pass
            if time.monotonic() - t0 > 30:
                break
        return -1
    dt = e2e_daemon.as_user(NOBODY, loris)
    check("5: a slow loris (1 byte/s) is cut by the request deadline (after %.1f s)" % dt,
          0 < dt < 12, "%r" % dt)

    # follow streams (1 per user here): a second waiting poll -> 429
    res2 = {}
    t = threading.Thread(target=lambda: res2.setdefault("a", ureq(NOBODY, "GET", "/v1/events?since=999999&wait=3")))
    t.start()
    time.sleep(0.7)
    st, b = ureq(NOBODY, "GET", "/v1/events?since=999999&wait=1")
    st2, b2 = ureq(OTHER, "GET", "/v1/events?since=999999&wait=1")
    t.join()
    check("5: a second follow stream of one user -> 429; another user's is served",
          st == 429 and st2 == 200 and res2["a"][0] == 200, "%r %r %r" % (st, st2, res2))


def test_events():
    st, b = req("GET", "/v1/events")
    last = b["last"]
    got = {}

    def poll(uid, key):
        got[key] = ureq(uid, "GET", "/v1/events?since=%d&wait=10" % last)

    ts = [threading.Thread(target=poll, args=(OTHER, "other")),
          threading.Thread(target=poll, args=(NOBODY, "nobody"))]
    for t in ts:
        t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    st, b = ureq(NOBODY, "POST", "/v1/vms?name=ev", config())
    ts[1].join()
    dt = time.monotonic() - t0
    ts[0].join()
    ev = got["nobody"][1].get("events", [])
    check("8: a long poll returns on the caller's own new event (%.2f s)" % dt,
          dt < 3 and any(e["type"] == "created" for e in ev), "%r" % got["nobody"])
    check("8: another user's long poll does not see it", got["other"][0] == 200 and
          not got["other"][1].get("events"), "%r" % got["other"])
    ureq(NOBODY, "DELETE", "/v1/vms/" + b.get("id", "x"))

    # the CLI: `bulkhead events` (own events only) and `events -f` (follows)
    env = dict(os.environ, BULKHEAD_SOCKET=SOCK)
    as_nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
    req("POST", "/v1/vms?name=rootsecret", config())
    p = subprocess.run(as_nobody + [BH, "events"], capture_output=True, text=True, env=env,
                       timeout=30)
    check("8: `bulkhead events` lists the user's own events, not root's",
          p.returncode == 0 and " created " in p.stdout and "rootsecret" not in p.stdout and
          len(p.stdout.splitlines()) >= 2, p.stdout + p.stderr)
    f = subprocess.Popen(as_nobody + [BH, "events", "-f"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env)
    try:
        time.sleep(1.0)
        st, b = ureq(NOBODY, "POST", "/v1/vms?name=followed", config())
        seen = []

        def reader():
            for line in f.stdout:
                seen.append(line)
                if "followed" in line or b.get("id", "?") in line:
                    return
        t = threading.Thread(target=reader)
        t.start()
        t.join(10)
        check("8: `bulkhead events -f` prints a new event as it happens",
              any(b.get("id", "?") in l and "created" in l for l in seen), "%r" % seen[-3:])
    finally:
        f.kill()
        f.wait()
    ureq(NOBODY, "DELETE", "/v1/vms/followed")
    req("DELETE", "/v1/vms/rootsecret")


def err_of(b):
    return b.get("error", "") if isinstance(b, dict) else str(b)


def user_reads(uid, path):
    """Can uid read the first bytes of path? (True, or the errno's name)"""
    def rd():
        try:
            with open(path, "rb") as f:
                f.read(16)
            return True
        except OSError as e:
            return e.strerror
    return e2e_daemon.as_user(uid, rd)


def user_writes(uid, path):
    def wr():
        try:
            with open(path, "r+b"):
                return True
        except OSError as e:
            return e.strerror
    return e2e_daemon.as_user(uid, wr)


def test_snapshots():
    vid, why = create_start(NOBODY, "honest", "64M", "snapper")
    check("9: a user's VM to snapshot starts", not why, why)
    if why:
        return
    wait_for(lambda: ticks(vid) > 3, 5)
    st, b = ureq(OTHER, "POST", "/v1/vms/%s/snapshot" % vid, "")
    st2, b2 = ureq(OTHER, "POST", "/v1/vms/snapper/snapshot", "")
    st3, b3 = ureq(OTHER, "POST", "/v1/vms/nosuchvm/snapshot", "")
    check("9: snapshot of another user's VM (by ID or name) -> 404, same words as a missing one",
          st == st2 == st3 == 404 and err_of(b).replace(vid, "X") == err_of(b3).replace("nosuchvm", "X"),
          "%d %r / %d %r / %d %r" % (st, b, st2, b2, st3, b3))
    bad_bodies = [("{", "JSON object"), ("[]", "JSON object"), ('{"resume": 1}', "resume"),
                  ('{"bogus": true}', "unknown key"), ('{"name": "../x"}', "name"),
                  ('{"name": ""}', "name"), ('{"name": "a/b"}', "name"),
                  ('{"name": "quarantine-1"}', "quarantine"), ('{"name": 5}', "string")]
    got = [(body, ureq(NOBODY, "POST", "/v1/vms/%s/snapshot" % vid, body)) for body, _ in bad_bodies]
    wrong = [(body, r) for (body, r), (_, needle) in zip(got, bad_bodies)
             if r[0] != 400 or needle.lower() not in err_of(r[1]).lower()]
    check("9: %d malformed snapshot bodies -> 400 naming the problem" % len(bad_bodies), not wrong,
          "%r" % wrong[:3])
    check("9: ... and none made a snapshot", inspect(vid, NOBODY)[1].get("snapshots") == [],
          "%r" % inspect(vid, NOBODY)[1].get("snapshots"))
    n0 = ticks(vid)
    (st, b), dt = timed(ureq, NOBODY, "POST", "/v1/vms/%s/snapshot" % vid,
                        '{"resume": true, "name": "s1"}')
    check("9: snapshot --resume: 201 in %.2f s, the VM runs on" % dt,
          st == 201 and b.get("snapshot") == "s1" and b.get("state") == "running" and
          b.get("source") == vid + "/s1" and wait_for(lambda: ticks(vid) > n0 + 3, 5),
          "%d %r" % (st, b))
    path = b.get("path", "/nonexistent") if isinstance(b, dict) else "/nonexistent"
    files = [os.path.join(path, f) for f in ("manifest", "state", "memory")]
    sts = [os.stat(f) for f in files if os.path.exists(f)]
    check("9: its files are root's, written by the daemon, nobody's to write",
          len(sts) == 3 and all(x.st_uid == 0 and not x.st_mode & 0o022 for x in sts) and
          all(user_writes(NOBODY, f) is not True for f in files), "%r" % sts)
    check("9: ... readable by the VM's owner, not by another user",
          all(user_reads(NOBODY, f) is True for f in files) and
          all(user_reads(OTHER, f) is not True for f in files),
          "%r %r" % ([user_reads(NOBODY, f) for f in files], [user_reads(OTHER, f) for f in files]))
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/snapshot" % vid, '{"name": "s1"}')
    check("9: a snapshot name taken -> 409", st == 409 and "exists" in err_of(b), "%d %r" % (st, b))
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/snapshot" % vid)
    n0 = ticks(vid)
    time.sleep(0.3)
    check("9: snapshot without resume: named after the time, the VM stays paused (frozen)",
          st == 201 and b.get("snapshot", "").startswith("snap-") and b.get("state") == "paused"
          and ticks(vid) == n0, "%d %r" % (st, b))
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/snapshot" % vid, '{"name": "s3"}')
    check("9: snapshot of a paused (frozen) VM: it stays paused", st == 201 and
          b.get("state") == "paused" and ticks(vid) == n0, "%d %r" % (st, b))
    st, b = inspect(vid, NOBODY)
    snaps = b.get("snapshots", []) if isinstance(b, dict) else []
    check("9: inspect lists the 3 snapshots with time and size",
          sorted(x["name"] for x in snaps)[0] == "s1" and len(snaps) == 3 and
          all(x["size_bytes"] >= 64 << 20 and x["time"] > 0 and x["kind"] == "snapshot"
              for x in snaps), "%r" % snaps)
    ureq(NOBODY, "POST", "/v1/vms/%s/resume" % vid)
    for i in range(5):
        ureq(NOBODY, "POST", "/v1/vms/%s/snapshot" % vid, '{"resume": true, "name": "c%d"}' % i)
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/snapshot" % vid, '{"resume": true}')
    check("9: a 9th snapshot of one VM -> 429 naming the cap (8)", st == 429 and "8 snapshots" in err_of(b),
          "%d %r" % (st, b))

    # --- create from a snapshot
    st, b = ureq(NOBODY, "POST", "/v1/vms?name=fromsnap", json.dumps({"from_snapshot": "snapper/s1"}))
    cid = b.get("id") if st == 201 else None
    check("9: create from the owner's snapshot by VM name -> 201, from_snapshot recorded",
          st == 201 and b.get("from_snapshot") == vid + "/s1", "%d %r" % (st, b))
    if cid:
        st, b = ureq(NOBODY, "POST", "/v1/vms/%s/start" % cid)
        check("9: ... it starts and runs (restored by its VMM from the handed-in files)",
              st == 200 and b.get("state") == "running" and wait_for(lambda: ticks(cid) > 3, 5),
              "%d %r" % (st, b))
        vlog = open(os.path.join(STATE, "vms", cid, "vmm.log")).read()
        check("9: ... its VMM ran `restore --snapshot-fds` as the owner",
              "argv restore --snapshot-fds 5,6,7" in vlog and "uid %d" % NOBODY in vlog
              and "restored from a snapshot" in vlog, vlog[-500:])
        kill_rm(cid, NOBODY)
    st, b = ureq(NOBODY, "POST", "/v1/vms", json.dumps({"from_snapshot": vid + "/s1", "paused": True}))
    pid_ = b.get("id") if st == 201 else None
    if pid_:
        st, b = ureq(NOBODY, "POST", "/v1/vms/%s/start" % pid_)
        time.sleep(0.3)
        check("9: create with paused: true -> it starts paused", st == 200 and
              b.get("state") == "paused" and ticks(pid_) <= 0, "%d %r ticks %d" % (st, b, ticks(pid_)))
        kill_rm(pid_, NOBODY)
    else:
        bad("9: create with paused: true", "%d %r" % (st, b))
    # hostile sources
    other_vid, why = create_start(OTHER, "honest", "64M", "othervm")
    cases = [
        (OTHER, {"from_snapshot": vid + "/s1"}, 404, "no snapshot"),
        (OTHER, {"from_snapshot": "snapper/s1"}, 404, "no snapshot"),
        (OTHER, {"from_snapshot": path}, 403, "permission"),
        (NOBODY, {"from_snapshot": vid + "/../" + vid}, 400, "not a snapshot name"),
        (NOBODY, {"from_snapshot": vid + "/.."}, 400, "not a snapshot name"),
        (NOBODY, {"from_snapshot": vid + "/s1/../../../../config.json"}, 400, "not a snapshot name"),
        (NOBODY, {"from_snapshot": path + "/../s1"}, 400, "'..'"),
        (NOBODY, {"from_snapshot": "/etc"}, 404, "manifest"),
        (NOBODY, {"from_snapshot": os.path.join(STATE, "vms", other_vid or "x")}, 403, "permission"),
        (NOBODY, {"from_snapshot": vid + "/nosuch"}, 404, "no snapshot"),
        (NOBODY, {"from_snapshot": ""}, 400, "from_snapshot"),
        (NOBODY, {"from_snapshot": 5}, 400, "string"),
        (NOBODY, {"from_snapshot": vid + "/s1", "cpus": 4}, 400, "unknown key"),
        (NOBODY, {"from_snapshot": vid + "/s1", "paused": "yes"}, 400, "paused"),
        (NOBODY, {"from_snapshot": "x" * 1200}, 400, "from_snapshot"),
        (NOBODY, {"from_snapshot": "/tmp/a\nb"}, 400, "control"),
    ]
    # a snapshot the user copied into a directory of their own, then altered
    mine = os.path.join(T, "nobody-snap")
    os.mkdir(mine, 0o700)
    for f in ("manifest", "state", "memory"):
        shutil.copy(os.path.join(path, f), mine)
    for f in os.listdir(mine) + ["."]:
        os.chown(os.path.join(mine, f), NOBODY, NOBODY)
    cases.append((NOBODY, {"from_snapshot": mine}, 201, ""))
    cases.append((OTHER, {"from_snapshot": mine}, 403, "permission"))
    flipped = os.path.join(T, "nobody-flipped")
    shutil.copytree(mine, flipped)
    with open(os.path.join(flipped, "state"), "r+b") as f:
        f.seek(130)
        c = f.read(1)
        f.seek(130)
        f.write(bytes([c[0] ^ 1]))
    for f in os.listdir(flipped) + ["."]:
        os.chown(os.path.join(flipped, f), NOBODY, NOBODY)
    cases.append((NOBODY, {"from_snapshot": flipped}, 422, "SHA-256"))
    fifo = os.path.join(T, "nobody-fifo")
    shutil.copytree(mine, fifo)
    os.unlink(os.path.join(fifo, "memory"))
    os.mkfifo(os.path.join(fifo, "memory"))
    for f in os.listdir(fifo) + ["."]:
        os.chown(os.path.join(fifo, f), NOBODY, NOBODY)
    cases.append((NOBODY, {"from_snapshot": fifo}, 422, "regular file"))
    link = os.path.join(T, "nobody-link")
    shutil.copytree(mine, link)
    os.unlink(os.path.join(link, "state"))
    os.symlink(os.path.join(path, "state"), os.path.join(link, "state"))
    for f in os.listdir(link) + ["."]:
        os.lchown(os.path.join(link, f), NOBODY, NOBODY)
    cases.append((NOBODY, {"from_snapshot": link}, 400, "symbolic link"))
    # a copy whose recorded configuration names a host path (a disk): a
    # restore opens no host path a snapshot file names (restore_paths.h)
    withdisk = os.path.join(T, "nobody-withdisk")
    shutil.copytree(mine, withdisk)
    with_disk(withdisk, "/etc/hostname")
    for f in os.listdir(withdisk) + ["."]:
        os.chown(os.path.join(withdisk, f), NOBODY, NOBODY)
    cases.append((NOBODY, {"from_snapshot": withdisk}, 422, "names a host path (disk 0 '/etc/hostname')"))
    n_before = len(req("GET", "/v1/vms")[1]["vms"])
    wrong, made = [], []
    for uid, body, want, needle in cases:
        st, b = ureq(uid, "POST", "/v1/vms", json.dumps(body))
        if st == 201:
            made.append(b["id"])
        if st != want or needle.lower() not in err_of(b).lower():
            wrong.append((body, st, err_of(b)[:120]))
    check("9: %d from_snapshot sources (another user's, traversal, unreadable, altered, a FIFO, "
          "a link, malformed) refused precisely; the user's own copy accepted" % len(cases),
          not wrong, "%r" % wrong[:4])
    check("9: ... and only that one VM was created",
          len(req("GET", "/v1/vms")[1]["vms"]) == n_before + len(made) and len(made) == 1, "%r" % made)
    for m in made:
        ureq(NOBODY, "DELETE", "/v1/vms/" + m)
    if other_vid:
        kill_rm(other_vid, OTHER)
    # a VMM that recorded a disk its VM's configuration does not name: the
    # daemon checks its own store's snapshots against the VM's configuration
    liar, why = create_start(NOBODY, "snapdisk", "64M", "snapliar")
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/snapshot" % (liar or "x"), '{"name": "d1"}')
    st2, b2 = ureq(NOBODY, "POST", "/v1/vms", json.dumps({"from_snapshot": "snapliar/d1"}))
    check("9: a snapshot whose VMM recorded a disk the VM's configuration lacks -> 422, no VM",
          not why and st == 201 and st2 == 422 and "differs from VM" in err_of(b2) and
          "/etc/hostname" in err_of(b2), "%s %d %r %d %r" % (why, st, b, st2, b2))
    if liar:
        kill_rm(liar, NOBODY)
    # VMs made from one snapshot of a VM with vsock: each a clone with its own
    # vsock CID and socket (restore --clone-index N, config/clone_id.h)
    vsdir = os.path.join(T, "vsock-other")
    os.mkdir(vsdir, 0o700)
    os.chown(vsdir, OTHER, OTHER)
    st, b = ureq(OTHER, "POST", "/v1/vms?name=vsrc", config("honest", "64M", {
        "vsock": {"cid": 7, "socket": os.path.join(vsdir, "v.sock")}}))
    vsrc = b.get("id") if st == 201 else None
    if vsrc:
        ureq(OTHER, "POST", "/v1/vms/%s/start" % vsrc)
    st, b = ureq(OTHER, "POST", "/v1/vms/%s/snapshot" % (vsrc or "x"), '{"name": "v1", "resume": true}')
    kids, idx, argvs = [], [], []
    for _ in range(2):
        st2, b2 = ureq(OTHER, "POST", "/v1/vms", json.dumps({"from_snapshot": "vsrc/v1"}))
        if st2 == 201:
            kids.append(b2["id"])
            idx.append(b2.get("clone_index"))
            ureq(OTHER, "POST", "/v1/vms/%s/start" % b2["id"])
        else:
            idx.append((st2, err_of(b2)))
    for k in kids:
        wait_for(lambda k=k: "argv restore" in open(os.path.join(STATE, "vms", k, "vmm.log")).read(), 5)
        argvs.append([l for l in open(os.path.join(STATE, "vms", k, "vmm.log")).read().splitlines()
                      if "argv restore" in l][:1])
    check("9: two VMs from one snapshot of a vsock VM are clones 1 and 2 (own CID and socket)",
          st == 201 and idx == [1, 2] and len(argvs) == 2 and
          "--clone-index 1" in str(argvs[0]) and "--clone-index 2" in str(argvs[1]),
          "%d %r %r %r" % (st, b, idx, argvs))
    if kids:
        kill_rm(kids[0], OTHER)
        st2, b2 = ureq(OTHER, "POST", "/v1/vms", json.dumps({"from_snapshot": "vsrc/v1"}))
        check("9: ... a freed clone index is given again", st2 == 201 and
              b2.get("clone_index") == 1, "%d %r" % (st2, b2))
        if st2 == 201:
            kids[0] = b2["id"]
            ureq(OTHER, "DELETE", "/v1/vms/" + b2["id"])
        for k in kids[1:]:
            kill_rm(k, OTHER)
    if vsrc:
        kill_rm(vsrc, OTHER)

    # --- quarantine captures evidence
    st, b = req("POST", "/v1/vms/%s/quarantine" % vid, json.dumps({"reason": "test: evidence"}))
    fpath = b.get("forensic_snapshot", "") if isinstance(b, dict) else ""
    check("9: quarantine names its forensic snapshot in the response",
          st == 200 and b.get("state") == "quarantined" and "/snapshots/quarantine-" in fpath,
          "%d %r" % (st, b))
    st, b = inspect(vid, NOBODY)
    kinds = [x["kind"] for x in b.get("snapshots", [])] if isinstance(b, dict) else []
    check("9: ... and in inspect (path, and a 'forensic' entry of the list)",
          b.get("forensic_snapshot") == fpath and "forensic" in kinds, "%r" % b)
    ffiles = [os.path.join(fpath, f) for f in ("manifest", "state", "memory")]
    check("9: the forensic snapshot is root's, readable by the owner, not writable by them",
          all(os.stat(f).st_uid == 0 for f in ffiles) and
          all(user_reads(NOBODY, f) is True for f in ffiles) and
          all(user_writes(NOBODY, f) is not True for f in ffiles) and
          all(user_reads(OTHER, f) is not True for f in ffiles), "")
    name = os.path.basename(fpath)
    st, b = ureq(NOBODY, "POST", "/v1/vms", json.dumps({"from_snapshot": vid + "/" + name,
                                                        "paused": True}))
    fid = b.get("id") if st == 201 else None
    if fid:
        st, b = ureq(NOBODY, "POST", "/v1/vms/%s/start" % fid)
        time.sleep(0.3)
        check("9: the forensic snapshot restores paused, for inspection", st == 200 and
              b.get("state") == "paused" and ticks(fid) <= 0, "%d %r" % (st, b))
        kill_rm(fid, NOBODY)
    else:
        bad("9: the forensic snapshot restores paused", "%d %r" % (st, b))
    snapdir = os.path.join(STATE, "vms", vid, "snapshots")
    kill_rm(vid, NOBODY)
    check("9: removing the VM removes its snapshots", not os.path.exists(snapdir), snapdir)
    # a VMM that cannot snapshot: quarantine still holds, the failure is named
    nid, why = create_start(NOBODY, "nosnap", "64M", "nosnap")
    if not why:
        st, b = req("POST", "/v1/vms/%s/quarantine" % nid, json.dumps({"reason": "test"}))
        check("9: quarantine of a VM whose VMM cannot snapshot: quarantined, the failure named",
              st == 200 and b.get("state") == "quarantined" and not b.get("forensic_snapshot") and
              "not supported" in b.get("forensic_snapshot_error", ""), "%d %r" % (st, b))
        kill_rm(nid, NOBODY)
    else:
        bad("9: a nosnap VM starts", why)


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def end_then_rm(verb, cycles):
    """`verb` (stop or kill) then DELETE at once, `cycles` times: the reply
    means the VM is gone, cgroup included, so the DELETE is a 200 (not a
    409 while the VM process its VMM's exit left behind is still ending)."""
    for i in range(cycles):
        vid, why = create_start(NOBODY, mode="linger", mem="256M")
        if why:
            bad("6: %s then rm at once (cycle %d)" % (verb, i), why)
            continue
        st, b = ureq(NOBODY, "POST", "/v1/vms/%s/%s" % (vid, verb))
        gone = vm_cgroup_dir(vid) is None
        st2, b2 = ureq(NOBODY, "DELETE", "/v1/vms/" + vid)
        check("6: %s then rm at once (cycle %d): %s %d %s, its cgroup gone, rm %d" %
              (verb, i, verb, st, b.get("state"), st2), st == 200 and b.get("state") == "exited"
              and gone and st2 == 200, "%r %r cgroup %s" % (b, b2, vm_cgroup_dir(vid)))
        if st2 != 200:
            wait_for(lambda: ureq(NOBODY, "DELETE", "/v1/vms/" + vid)[0] == 200, 10)


def test_stop_then_rm():
    # `bulkhead stop` then `bulkhead rm` at once (the README's session)
    end_then_rm("stop", 5)
    end_then_rm("kill", 3)  # likewise a kill


def test_leaks():
    ver, bases = cg_base()
    # warm up once (first-use allocations), then measure
    vid, why = create_start(NOBODY)
    kill_rm(vid, NOBODY)
    fd0, rss0 = fds(daemon.pid), rss_kb(daemon.pid)
    n, errors, seen_pids = 20, [], []
    for i in range(n):
        vid, why = create_start(NOBODY)
        if why:
            errors.append(why)
            continue
        seen_pids += vm_pids(vid)
        if kill_rm(vid, NOBODY) != 200:
            errors.append("rm %s" % vid)
    time.sleep(0.3)
    left = [d for b in bases.values() if os.path.isdir(b) for d in os.listdir(b)
            if d.startswith("bulkhead-vm-")]
    living = [p for p in seen_pids if alive(p)]
    fd1, rss1 = fds(daemon.pid), rss_kb(daemon.pid)
    check("6: %d create/start/kill/rm cycles: no errors" % n, not errors, "%r" % errors[:3])
    check("6: ... no per-VM cgroup left in any hierarchy", not left, "%r" % left[:5])
    check("6: ... no state directory left", os.listdir(os.path.join(STATE, "vms")) == [],
          "%r" % os.listdir(os.path.join(STATE, "vms")))
    check("6: ... no VMM process left (%d seen)" % len(seen_pids), seen_pids and not living, "%r" % living)
    check("6: ... the daemon's fds stay flat (%d -> %d)" % (fd0, fd1), fd1 <= fd0, "")
    check("6: ... the daemon's RSS stays flat (%d -> %d KiB)" % (rss0, rss1), rss1 - rss0 < 4 * 1024, "")

    # a daemon restart sweeps the cgroups of VMs that died while it was down
    vid, why = create_start(NOBODY)
    fake = os.path.join(bases["memory"], "bulkhead-vm-0badf00d")
    os.mkdir(fake)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    killed = vm_pids(vid)
    for p in killed:
        os.kill(p, signal.SIGKILL)
    # "died while the daemon was down": wait until they have (a process
    # with a large mapping can take a while to exit on a loaded host)
    wait_for(lambda: not any(alive(p) for p in killed), 10)
    start_daemon()
    st, b = inspect(vid, NOBODY)
    check("6: restart: a VM that died while the daemon was down is exited, its cgroup swept, "
          "and an orphaned cgroup too", b.get("state") == "exited" and vm_cgroup_dir(vid) is None
          and not os.path.isdir(fake), "%r %r" % (b, vm_cgroup_dir(vid)))
    ureq(NOBODY, "DELETE", "/v1/vms/" + vid)

    # a restart with a hung VMM: the daemon answers at once
    vid, why = create_start(NOBODY)
    for p in vm_pids(vid):
        os.kill(p, signal.SIGSTOP)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    t0 = time.monotonic()
    start_daemon()
    (st, b), dt = timed(req, "GET", "/v1/vms")
    dt_total = time.monotonic() - t0
    check("1: restart with a hung VMM: the API is up and answering in %.2f s" % dt_total,
          st == 200 and dt_total < 3, "%d" % st)
    st, b = ureq(NOBODY, "POST", "/v1/vms/%s/kill" % vid)
    check("1: ... and the re-attached hung VMM can be killed", st == 200 and b.get("state") == "exited",
          "%d %r" % (st, b))
    ureq(NOBODY, "DELETE", "/v1/vms/" + vid)


def cpus_allowed(pid):
    """Cpus_allowed_list of every thread of pid, as sets of CPUs."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        for line in open("/proc/%d/task/%s/status" % (pid, tid)):
            if line.startswith("Cpus_allowed_list:"):
                cpus = set()
                for part in line.split(":", 1)[1].strip().split(","):
                    a, _, b = part.partition("-")
                    cpus.update(range(int(a), int(b or a) + 1))
                out.append(cpus)
    return out


def test_cpu_alloc():
    """7 dedicated cores (issue 17, src/daemon/cpu_alloc.c) and cpu.weight:
    the allocator confines every VM's process tree before exec, never gives a
    core to two VMs (the refusal names the holder), narrows VMs already
    running, and frees the core when its holder ends. Stand-in VMMs: the
    daemon's side, on any host with 2 CPUs."""
    host = os.sched_getaffinity(0)
    if len(host) < 2:
        print("SKIP cpu allocator: this host lets us use %d CPU (one to dedicate, one to "
              "share needed)" % len(host))
        return
    last = max(host)
    # cpu.weight reaches the VM's cgroup (v2 cpu.weight, v1 cpu.shares)
    st, b = req("POST", "/v1/vms?name=w1", config(extra={"cpu_weight": 300}))
    wid = b.get("id") if st == 201 else None
    st2, _ = req("POST", "/v1/vms/%s/start" % wid) if wid else (0, None)
    ver, _ = cg_base()
    d = vm_cgroup_dir(wid, "cpu") if wid else None
    f, want = ("cpu.weight", "300") if ver == 2 else ("cpu.shares", str(300 * 1024 // 100))
    path = os.path.join(d, f) if d else None
    got = open(path).read().strip() if path and os.path.exists(path) else None
    check("cpu_weight 300 -> %s %s" % (f, want), st2 == 200 and got == want,
          "start %s, %s = %r" % (st2, f, got))
    # a shared VM runs before the dedicated one (w1)
    before = vm_pids(wid) if wid else []
    check("cpu: a shared VM may use every CPU before any is dedicated",
          before and all(last in c for p in before for c in cpus_allowed(p)),
          repr([cpus_allowed(p) for p in before]))
    # dedicated, no list: the allocator takes the last CPU
    st, b = req("POST", "/v1/vms?name=ded1", config(extra={"cpu_dedicated": True}))
    d1 = b.get("id") if st == 201 else None
    st, b = req("POST", "/v1/vms/%s/start" % d1)
    check("cpu_dedicated: started", st == 200, "%d %r" % (st, b))
    p1 = vm_pids(d1)
    check("cpu_dedicated: its process tree is confined to %s" % sorted(host),
          p1 and all(c <= host and last in c for p in p1 for c in cpus_allowed(p)),
          repr([cpus_allowed(p) for p in p1]))
    check("cpu_dedicated: a VM already running is moved off CPU %d" % last,
          before and all(last not in c for p in before for c in cpus_allowed(p)),
          repr([cpus_allowed(p) for p in before]))
    vid2, e = create_start(0, name="sh2")
    p2 = vm_pids(vid2) if vid2 and not e else []
    check("cpu_dedicated: a VM started later is confined off CPU %d before exec" % last,
          p2 and all(last not in c for p in p2 for c in cpus_allowed(p)),
          e or repr([cpus_allowed(p) for p in p2]))
    # the same core again: refused, naming the holder; nothing started
    st, b = req("POST", "/v1/vms?name=ded2",
                config(extra={"cpu_dedicated": True, "cpu_affinity": str(last)}))
    d2 = b.get("id") if st == 201 else None
    st, b = req("POST", "/v1/vms/%s/start" % d2)
    e = b.get("error", "") if isinstance(b, dict) else str(b)
    check("cpu_dedicated: CPU %d again -> 409 naming ded1 (%s)" % (last, e[:90]),
          st == 409 and ("host CPU %d is dedicated to VM 'ded1'" % last) in e and
          inspect(d2)[1].get("state") != "running", "%d %r" % (st, b))
    # a shared VM whose own list names the held core: refused too
    st, b = req("POST", "/v1/vms?name=sh3", config(extra={"cpu_affinity": str(last)}))
    s3 = b.get("id") if st == 201 else None
    st, b = req("POST", "/v1/vms/%s/start" % s3)
    check("cpu_affinity naming a dedicated core -> 409", st == 409 and "ded1" in str(b),
          "%d %r" % (st, b))
    if len(host) == 2:  # a second dedicated core would leave nothing shared
        st, b = req("POST", "/v1/vms?name=ded3", config(extra={"cpu_dedicated": True}))
        d3 = b.get("id") if st == 201 else None
        st, b = req("POST", "/v1/vms/%s/start" % d3)
        check("cpu_dedicated: no second core on a 2-CPU host -> 409 (%s)" % str(b)[:80],
              st == 409, "%d %r" % (st, b))
        kill_rm(d3)
    # a daemon killed and restarted re-attaches ded1 with its core
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    start_daemon()
    st, b = req("POST", "/v1/vms/%s/start" % d2)
    check("cpu_dedicated: after a daemon restart CPU %d is still ded1's -> 409" % last,
          st == 409 and "ded1" in str(b), "%d %r" % (st, b))
    # the holder ends: the core is free again
    kill_rm(d1)
    st, b = req("POST", "/v1/vms/%s/start" % d2)
    check("cpu_dedicated: CPU %d is handed out again once ded1 ended" % last, st == 200,
          "%d %r" % (st, b))
    for v in (d2, s3, vid2, wid):
        if v:
            kill_rm(v)


def console(vid):
    try:
        return open(os.path.join(STATE, "vms", vid, "console.log")).read()
    except OSError:
        return ""


def nic0(vid, uid=0):
    st, b = inspect(vid, uid)
    return (b.get("nics") or [{}])[0] if st == 200 else {}


def test_network():
    """11: networks through the daemon: stand-in VMMs use the ports it hands them."""
    for n in ("blue", "red"):
        st, b = req("POST", "/v1/networks", json.dumps({"name": n}))
        check("11: network %s created" % n, st == 201, "%d %r" % (st, b))
    vms = {}
    for name, mode, net, extra in [("na", "honest net=probe", "blue", {}),
                                   ("nb", "honest", "blue", {}),
                                   ("nc", "honest", "red", {}),
                                   ("nq", "honest net=spoof", "blue", {"on_violation": "quarantine"}),
                                   ("nd", "honest net=spoof", "blue", {})]:
        ex = dict(extra, nets=[{"switch": net}])
        st, b = req("POST", "/v1/vms?name=" + name, config(mode, extra=ex))
        vms[name] = b.get("id") if st == 201 else None
    for name in ("nb", "nc", "na"):
        st, b = req("POST", "/v1/vms/%s/start" % vms[name])
        check("11: stand-in %s on a network starts" % name, st == 200, "%d %r" % (st, b))
    log = open(os.path.join(STATE, "vms", vms["na"], "vmm.log")).read()
    m = re.search(r"nic 0 port swnet0 fd 5 mac ([0-9a-f:]{17})", log)
    check("11: the VMM got its port as fd 5, named swnet0 in its config, with a MAC",
          m is not None and "--fd swnet0=5" in log, log[-500:])
    mac_a = m.group(1) if m else "?"
    got = wait_for(lambda: console(vms["nb"]).count("net0 rx src=" + mac_a) >= 3, 10)
    check("11: a VM's frames reach a VM on the same network", got, console(vms["nb"])[-300:])
    check("11: ... and none reaches a VM on another network", "net0 rx" not in console(vms["nc"]),
          console(vms["nc"])[-300:])
    a, b = nic0(vms["na"]), nic0(vms["nb"])
    ca, cb = a.get("counters", {}), b.get("counters", {})
    check("11: inspect shows the port's counters (sender rx %s, receiver tx %s, no drops)" %
          (ca.get("rx_frames"), cb.get("tx_frames")),
          a.get("connected") and ca.get("rx_frames", 0) >= 3 and cb.get("tx_frames", 0) >= 3 and
          ca.get("rx_bytes", 0) >= 3 * 54 and not any(ca.get("drops", {"x": 1}).values()),
          "%r %r" % (a, b))
    st, body = raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    text = body.decode(errors="replace")
    m = re.search(r'bulkhead_vm_net_rx_frames_total\{vm="%s",name="na",nic="0",network="blue"\} (\d+)'
                  % vms["na"], text)
    check("11: /metrics has the NIC's counters and drops by reason",
          m and int(m.group(1)) >= 3 and 'reason="spoof_mac"} 0' in text, text[-600:])

    # a spoofing VM with on_violation: count keeps running; its frames never arrive
    st, b = req("POST", "/v1/vms/%s/start" % vms["nd"])
    got = wait_for(lambda: nic0(vms["nd"]).get("counters", {}).get("drops", {}).get("spoof_mac", 0) >= 2, 10)
    st, b = inspect(vms["nd"])
    check("11: a spoofing VM (on_violation count): dropped, counted, an event; it keeps running",
          got and b.get("state") == "running" and b.get("net_violations", 0) >= 1,
          "%r" % {k: b.get(k) for k in ("state", "net_violations", "nics")})
    # ... with quarantine: quarantined and cut off
    st, b = req("POST", "/v1/vms/%s/start" % vms["nq"])
    got = wait_for(lambda: inspect(vms["nq"])[1].get("state") == "quarantined", 10)
    st, b = inspect(vms["nq"])
    check("11: a spoofing VM (on_violation quarantine) is quarantined, its port cut (%s)" %
          b.get("quarantine_reason"),
          got and "spoof_mac" in b.get("quarantine_reason", "") and b.get("frozen") is True and
          not (b.get("nics") or [{}])[0].get("connected"), "%r" % b)
    st, ev = req("GET", "/v1/events")
    types = [(e["vm"], e["type"]) for e in ev.get("events", [])]
    check("11: violation events for both spoofers",
          (vms["nq"], "net-violation") in types and (vms["nd"], "net-violation") in types and
          (vms["nq"], "quarantined") in types, "%r" % types[-10:])
    check("11: no spoofed frame reached the neighbour",
          "src=02:ee:ee:ee:ee:ee" not in console(vms["nb"]) + console(vms["nc"]),
          console(vms["nb"])[-300:])
    expect_rm = req("DELETE", "/v1/networks/blue")
    check("11: removing a network VMs use -> 409", expect_rm[0] == 409 and "in use" in str(expect_rm[1]),
          "%r" % (expect_rm,))

    # the VM goes, its port goes: a restart gets a fresh one
    rx0 = nic0(vms["na"]).get("counters", {}).get("rx_frames", 0)
    req("POST", "/v1/vms/%s/kill" % vms["na"])
    wait_for(lambda: inspect(vms["na"])[1].get("state") == "exited", 10)
    check("11: an exited VM's NIC is not connected", nic0(vms["na"]).get("connected") is False,
          "%r" % nic0(vms["na"]))
    st, b = req("POST", "/v1/vms/%s/start" % vms["na"])
    c = nic0(vms["na"]).get("counters", {})
    check("11: restarted, it has a new port (rx %s, was %s)" % (c.get("rx_frames"), rx0),
          st == 200 and c.get("rx_frames", 1 << 60) < rx0, "%d %r" % (st, c))

    # a non-root user's VM on its own network
    st, b = ureq(NOBODY, "POST", "/v1/networks", json.dumps({"name": "mine"}))
    st2, b2 = ureq(NOBODY, "POST", "/v1/vms?name=nu", config("honest net=probe",
                                                            extra={"nets": [{"switch": "mine"}]}))
    uv = b2.get("id") if st2 == 201 else None
    st3, b3 = ureq(NOBODY, "POST", "/v1/vms/%s/start" % uv)
    got = wait_for(lambda: nic0(uv).get("counters", {}).get("rx_frames", 0) >= 2, 10)
    check("11: a non-root user's VM on its own network sends through its port",
          st == 201 and st2 == 201 and st3 == 200 and got, "%d %d %d %r" % (st, st2, st3, b3))
    st, b = ureq(NOBODY, "POST", "/v1/vms", config("honest", extra={"nets": [{"switch": "blue"}]}))
    check("11: ... and cannot attach to root's network (422, as if missing)",
          st == 422 and "no network 'blue'" in str(b), "%d %r" % (st, b))
    kill_rm(uv, NOBODY)
    ureq(NOBODY, "DELETE", "/v1/networks/mine")
    for v in vms.values():
        if v:
            kill_rm(v)
    for n in ("blue", "red"):
        st, b = req("DELETE", "/v1/networks/" + n)
        check("11: network %s removed once its VMs are gone" % n, st == 200, "%d %r" % (st, b))


def main():
    if os.geteuid() != 0:
        print("SKIP: daemon_hostile needs root (per-VM cgroups, other uids)")
        print("0 passed, 0 failed")
        return 0
    start_daemon()
    e2e_daemon.run_cases((test_limits, test_deadlines, test_quarantine, test_untrusted_files,
                          test_fair_shares, test_events, test_cpu_alloc, test_snapshots,
                          test_network, test_stop_then_rm, test_leaks))
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
    log = open(LOG).read()
    check("daemon exits cleanly on SIGTERM without sanitizer reports",
          daemon.returncode == 0 and "Sanitizer" not in log and "runtime error" not in log,
          "rc %s\n%s" % (daemon.returncode, log[-3000:]))
    left = [b for b in cg_base()[1].values() if os.path.isdir(b)]
    check("... and, with no VM left, removes its own cgroup base (no empty bulkheadd-N stays)",
          not left, "%r" % left)
    return e2e_daemon.finish(T)


if __name__ == "__main__":
    e2e_daemon.run_main(main, lambda: daemon)
