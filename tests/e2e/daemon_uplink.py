"""daemon_uplink.py — uplinks of bulkheadd's networks (no KVM), run from
daemon_api.py (helpers `t`: check(), BH, BHD, T).

Each daemon here is a daemon of its own (its own state dir and socket) so
that its passt runs only in a network namespace the test creates: A has a
veth to B (198.51.100.1/24, default route via B), B has no default route.
  - `network create wan --uplink passt` (daemon in A): 201 with an uplink
    that runs; the process is passt, a child of the daemon, started with
    --no-map-gw and no inbound forwards; `network ls` shows the kind;
  - the switch killed: restarted, and the uplink with it (a new passt, the
    old one gone);
  - passt killed: reported (uplink-exited) and restarted after its backoff;
  - the record keeps the uplink across a daemon kill -9 (the new daemon
    starts a passt for it);
  - `network rm`: passt stopped (uplink-stopped), the process gone;
  - passt not installed (a daemon in a mount namespace where passt is
    hidden): the create refused with 503 naming the Debian package, and no
    network made;
  - passt that exits at its first start (a daemon in B: no default route):
    the create fails (500, "did not start") and leaves no network;
  - `--uplink tap=IFNAME` (a tap the test makes in A): refused to a
    non-root user (403); a tap that does not exist fails the create (500,
    no network left); attached (the tap gets its carrier), attached again
    after the switch is killed, detached by `network rm` (carrier gone).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time


class Daemon:
    def __init__(self, t, tag, prefix=()):
        self.t = t
        self.dir = os.path.join(t.T, "up-" + tag)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "api.sock")
        self.state = os.path.join(self.dir, "state")
        self.log = os.path.join(self.dir, "daemon.log")
        self.prefix = list(prefix)
        self.p = None

    def start(self):
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        self.p = subprocess.Popen(self.prefix + [self.t.BHD, "--socket", self.sock, "--state-dir",
                                                 self.state, "--vmm", self.t.BH,
                                                 "--stop-timeout", "1", "--socket-mode",
                                                 "0666"],
                                  stdout=open(self.log, "a"), stderr=subprocess.STDOUT, env=env)
        for _ in range(200):
            if os.path.exists(self.sock) and self.req("GET", "/v1/version")[0] == 200:
                return True
            time.sleep(0.05)
        return False

    def daemon_pid(self):
        """The bulkheadd process (the Popen may be `ip netns exec` or a
        shell that exec'd it: the same pid)."""
        return self.p.pid

    def req(self, method, path, body=None):
        data = (body or "").encode()
        h = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % (method, path)
        if body is not None:
            h += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        try:
            s.connect(self.sock)
            s.sendall(h.encode() + b"\r\n" + data)
            buf = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                buf += c
        except OSError:
            return 0, None
        finally:
            s.close()
        head, _, rest = buf.partition(b"\r\n\r\n")
        try:
            st = int(head.split()[1])
        except (IndexError, ValueError):
            return 0, None
        try:
            return st, json.loads(rest.decode() or "null")
        except ValueError:
            return st, rest.decode(errors="replace")

    def cli(self, *args, uid=None):
        pre = [] if uid is None else ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                                      "--clear-groups"]
        p = subprocess.run(pre + [self.t.BH] + list(args), capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, BULKHEAD_SOCKET=self.sock))
        return p.returncode, p.stdout, p.stderr

    def events(self):
        st, b = self.req("GET", "/v1/events")
        return b.get("events", []) if st == 200 and isinstance(b, dict) else []

    def stop(self, sig=signal.SIGTERM):
        if self.p and self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(fn, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return fn()


def uplink_of(d, name):
    st, b = d.req("GET", "/v1/networks/" + name)
    return (b or {}).get("uplink") if st == 200 and isinstance(b, dict) else None


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)


NAMES = ("uplink-create", "uplink-is-passt-child", "uplink-passt-args", "uplink-ls-kind",
         "uplink-follows-switch", "uplink-passt-killed-restarted", "uplink-kept-across-restart",
         "uplink-rm-stops-passt", "uplink-passt-missing-refused", "uplink-passt-exit-at-start",
         "tap-uplink-root-only", "tap-uplink-missing-fails", "tap-uplink-attached",
         "tap-uplink-follows-switch", "tap-uplink-rm-detaches")


def run(t):
    passt = shutil.which("passt") or ("/usr/bin/passt" if os.access("/usr/bin/passt", os.X_OK)
                                      else None)
    why = None
    if os.geteuid() != 0:
        why = "not root (network namespaces)"
    elif not passt:
        why = "passt is not installed (scripts/deps.sh check installs it)"
    elif not shutil.which("ip") or not shutil.which("unshare"):
        why = "no ip(8) or unshare(1)"
    if why:
        for n in NAMES:
            t.skip("daemon uplink: " + n, why)
        return
    tag = "%d" % os.getpid()
    na, nb = "bhdupA" + tag, "bhdupB" + tag
    daemons = []
    try:
        sh("ip", "netns", "add", na)
        sh("ip", "netns", "add", nb)
        sh("ip", "-n", na, "link", "add", "vA", "type", "veth", "peer", "name", "vB", "netns", nb)
        sh("ip", "-n", na, "addr", "add", "198.51.100.1/24", "dev", "vA")
        sh("ip", "-n", nb, "addr", "add", "198.51.100.2/24", "dev", "vB")
        for ns, dev in ((na, "vA"), (nb, "vB")):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", na, "route", "add", "default", "via", "198.51.100.2")
        in_a(t, na, daemons)
        errors(t, nb, passt, daemons)
        tap(t, na, daemons)
    finally:
        for d in daemons:
            d.stop(signal.SIGKILL)
        for ns in (na, nb):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def in_a(t, na, daemons):
    d = Daemon(t, "a", ["ip", "netns", "exec", na])
    daemons.append(d)
    if not d.start():
        t.check("uplink-create", False, "the daemon in %s did not come up: %s" %
                (na, open(d.log).read()[-800:]))
        return
    st, b = d.req("POST", "/v1/networks", '{"name": "wan", "uplink": "passt"}')
    up = (b or {}).get("uplink") or {} if isinstance(b, dict) else {}
    t.check("uplink-create: 201, uplink passt running", st == 201 and up.get("kind") == "passt"
            and up.get("running") is True and up.get("pid", 0) > 0, "%d %r" % (st, b))
    pid = up.get("pid", 0)
    try:
        comm = open("/proc/%d/comm" % pid).read().strip()
        ppid = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
        args = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
    except (OSError, ValueError):
        comm, ppid, args = "", 0, []
    t.check("uplink-is-passt-child: the daemon's child passt (pid %d)" % pid,
            comm.startswith("passt") and ppid == d.daemon_pid(), "comm %r ppid %d daemon %d" %
            (comm, ppid, d.daemon_pid()))
    t.check("uplink-passt-args: --no-map-gw, no inbound forwards",
            b"--no-map-gw" in args and args[args.index(b"-t") + 1:][:1] == [b"none"] and
            args[args.index(b"-u") + 1:][:1] == [b"none"] if b"-t" in args and b"-u" in args
            else False, "%r" % args)
    rc, out, err = d.cli("network", "ls")
    row = [ln for ln in out.splitlines() if " wan " in ln]
    t.check("uplink-ls-kind", rc == 0 and row and "passt" in row[0].split(), out + err)

    # the switch dies: it is restarted and the uplink with it
    st, b = d.req("GET", "/v1/networks")
    swpid = b["switch"]["pid"] if st == 200 else 0
    if swpid:
        os.kill(swpid, signal.SIGKILL)
    up2 = wait_for(lambda: (lambda u: u if u and u.get("running") and u.get("pid") not in (0, pid)
                            else None)(uplink_of(d, "wan")), 10) or {}
    t.check("uplink-follows-switch: new passt %s, old %d gone" % (up2.get("pid"), pid),
            swpid and up2.get("running") and up2.get("starts") == 2 and
            wait_for(lambda: not alive(pid), 5), "%r" % up2)
    # passt dies on its own: reported, restarted after its backoff (1 s)
    pid2 = up2.get("pid", 0)
    if pid2:
        os.kill(pid2, signal.SIGKILL)
    up3 = wait_for(lambda: (lambda u: u if u and u.get("running") and u.get("pid") not in (0, pid2)
                            else None)(uplink_of(d, "wan")), 10) or {}
    types = [e["type"] for e in d.events()]
    t.check("uplink-passt-killed-restarted (pid %s)" % up3.get("pid"),
            up3.get("starts") == 3 and "signal 9" in up3.get("last_error", "") and
            "uplink-exited" in types, "%r %r" % (up3, types[-6:]))

    # the record keeps the uplink: a restarted daemon starts it again
    pid3 = up3.get("pid", 0)
    d.stop(signal.SIGKILL)
    ok = d.start()
    up4 = wait_for(lambda: (lambda u: u if u and u.get("running") else None)(
        uplink_of(d, "wan")), 10) or {}
    t.check("uplink-kept-across-restart (passt %s)" % up4.get("pid"),
            ok and up4.get("kind") == "passt" and up4.get("pid") not in (None, 0, pid3),
            "%r" % up4)
    # (the old daemon's switch had no VM port: it ended, and its passt)
    wait_for(lambda: not alive(pid3), 5)

    pid4 = up4.get("pid", 0)
    rc, out, err = d.cli("network", "rm", "wan")
    types = [e["type"] for e in d.events()]
    t.check("uplink-rm-stops-passt", rc == 0 and pid4 and wait_for(lambda: not alive(pid4), 5)
            and "uplink-stopped" in types, "rc %d %s %s alive %s %r" %
            (rc, out, err, alive(pid4), types[-4:]))
    d.stop()


def errors(t, nb, passt, daemons):
    # passt hidden (a mount namespace of this daemon only; PATH without it)
    d = Daemon(t, "nopasst", ["unshare", "-m", "sh", "-c",
                              "mount --bind /dev/null %s && exec env PATH=/nonexistent \"$@\"" %
                              passt, "sh"])
    daemons.append(d)
    if d.start():
        st, b = d.req("POST", "/v1/networks", '{"name": "wan", "uplink": "passt"}')
        err = (b or {}).get("error", "") if isinstance(b, dict) else str(b)
        st2, b2 = d.req("GET", "/v1/networks")
        t.check("uplink-passt-missing-refused: 503 naming the package", st == 503 and
                "Debian package `passt`" in err and st2 == 200 and b2["networks"] == [],
                "%d %r / %r" % (st, b, b2))
    else:
        t.check("uplink-passt-missing-refused", False, open(d.log).read()[-800:])
    d.stop()
    # B has no default route: passt says so and exits at once
    d = Daemon(t, "b", ["ip", "netns", "exec", nb])
    daemons.append(d)
    if d.start():
        st, b = d.req("POST", "/v1/networks", '{"name": "wan", "uplink": "passt"}')
        err = (b or {}).get("error", "") if isinstance(b, dict) else str(b)
        st2, b2 = d.req("GET", "/v1/networks")
        t.check("uplink-passt-exit-at-start: 500, no network left", st == 500 and
                "did not start" in err and "at start" in err and st2 == 200 and
                b2["networks"] == [], "%d %r / %r" % (st, b, b2))
    else:
        t.check("uplink-passt-exit-at-start", False, open(d.log).read()[-800:])
    d.stop()


def carrier(ns, dev):
    r = subprocess.run(["ip", "netns", "exec", ns, "cat", "/sys/class/net/%s/carrier" % dev],
                       capture_output=True, text=True, timeout=20)
    return r.stdout.strip()


def tap(t, na, daemons):
    sh("ip", "-n", na, "tuntap", "add", "bhdtap0", "mode", "tap")
    sh("ip", "-n", na, "link", "set", "bhdtap0", "up")
    d = Daemon(t, "tap", ["ip", "netns", "exec", na])
    daemons.append(d)
    if not d.start():
        t.check("tap-uplink-root-only", False, open(d.log).read()[-800:])
        return
    rc, out, err = d.cli("network", "create", "t", "--uplink", "tap=bhdtap0", uid=65534)
    t.check("tap-uplink-root-only: 403 for uid 65534", rc == 2 and "403" in err and
            "only root" in err, "rc %d %s %s" % (rc, out, err))
    st, b = d.req("POST", "/v1/networks", '{"name": "t", "uplink": "tap=nosuch0"}')
    err = (b or {}).get("error", "") if isinstance(b, dict) else str(b)
    st2, b2 = d.req("GET", "/v1/networks")
    t.check("tap-uplink-missing-fails: 500, no network left", st == 500 and
            "no such interface" in err and st2 == 200 and b2["networks"] == [],
            "%d %r / %r" % (st, b, b2))
    c0 = carrier(na, "bhdtap0")
    rc, out, err = d.cli("network", "create", "t", "--uplink", "tap=bhdtap0")
    up = uplink_of(d, "t") or {}
    t.check("tap-uplink-attached (carrier %s -> %s)" % (c0, carrier(na, "bhdtap0")),
            rc == 0 and up.get("kind") == "tap=bhdtap0" and up.get("running") is True and
            c0 == "0" and wait_for(lambda: carrier(na, "bhdtap0") == "1", 3),
            "rc %d %s %s %r" % (rc, out, err, up))
    st, b = d.req("GET", "/v1/networks")
    swpid = b["switch"]["pid"] if st == 200 else 0
    if swpid:
        os.kill(swpid, signal.SIGKILL)
    up2 = wait_for(lambda: (lambda u: u if u and u.get("running") and u.get("starts") == 2
                            else None)(uplink_of(d, "t")), 10) or {}
    t.check("tap-uplink-follows-switch", swpid and up2.get("running") and
            carrier(na, "bhdtap0") == "1", "%r carrier %s" % (up2, carrier(na, "bhdtap0")))
    rc, out, err = d.cli("network", "rm", "t")
    types = [e["type"] for e in d.events()]
    t.check("tap-uplink-rm-detaches", rc == 0 and "uplink-stopped" in types and
            wait_for(lambda: carrier(na, "bhdtap0") == "0", 3),
            "rc %d %s carrier %s %r" % (rc, err, carrier(na, "bhdtap0"), types[-4:]))
    d.stop()
