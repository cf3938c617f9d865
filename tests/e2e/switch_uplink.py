"""switch_uplink.py — the switch's uplinks, run from switch_tests.py (helpers
`t`: its check(), port_rec(), Ctl, eth(), ...).

stream_tests: a stream port in passt's framing over a plain SOCK_STREAM
socketpair (the test plays passt): reassembly of a frame sent in 1-byte
pieces and of several frames in one write; the 4-byte prefix toward it; a
NEEDS_CSUM frame's checksum filled in; GSO refused; a full peer drops WHOLE
frames (the stream stays parseable, drops counted); a length out of range
removes the port; stream without uplink / a wrong socket type refused.

passt_tests: `bulkhead switch --uplink lab` with the real passt in network
namespaces the test creates (never any outside address): namespace A holds
the switch and passt (198.51.100.1/24, default route via B) and a TCP server
on 0.0.0.0:PORT (its loopback and its own address); namespace B holds the
"outside" server at 198.51.100.2:PORT. Acting as a VM port: DHCP and ARP
answered by passt; a SYN to 198.51.100.2 (the outside, also the gateway)
gets a SYN-ACK from B; a SYN to 127.0.0.1, to A's own address and to an RFC
1918 address are dropped by the switch's egress policy (counted) and A's
server never sees a connection (--no-map-gw: the gateway is not the host);
passt's exit is reported and its port removed; passt ends with the switch
(whose owner hung up: its uplink does not keep it running);
a passt that cannot work (no default route, namespace B) fails the switch's
start; a missing passt names the Debian package.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

OUT = bytes([198, 51, 100, 2])    # namespace B: the outside (and A's gateway)
HOSTA = bytes([198, 51, 100, 1])  # namespace A's own address (= the guest's, via DHCP)
F_STREAM = 8


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def ip4_hdr(src, dst, proto, plen):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + plen, 0, 0x4000, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", 0xffff - csum(h)) + h[12:]


def pseudo(src, dst, proto, ln):
    return src + dst + struct.pack("!BBH", 0, proto, ln)


def tcp_syn(src, dst, sport, dport):
    t = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    c = 0xffff - csum(pseudo(src, dst, 6, len(t)) + t)
    t = t[:16] + struct.pack("!H", c) + t[18:]
    return ip4_hdr(src, dst, 6, len(t)) + t


def dhcp_discover(m, xid):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, m.ljust(16, b"\0"), b"", b"")
    bootp += b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\x37\x02\x01\x03" + b"\xff"
    u = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
    return ip4_hdr(b"\0" * 4, b"\xff" * 4, 17, len(u)) + u


def frames_from(sock, wait, want):
    """The first message on sock within `wait` s for which want(frame) is
    true (frame: the Ethernet frame after the 12-byte header), or None."""
    end = time.monotonic() + wait
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            m = sock.recv(70000)
        except (socket.timeout, BlockingIOError):
            return None
        except OSError:
            return None
        if len(m) > 12 and want(m[12:]):
            return m[12:]
    return None


def ipv4_of(f):
    if len(f) < 34 or f[12:14] != b"\x08\x00":
        return None
    ihl = (f[14] & 15) * 4
    return f[14:14 + ihl], f[14 + ihl:]


def is_synack(f, sport):
    p = ipv4_of(f)
    if not p or p[0][9] != 6 or len(p[1]) < 20:
        return False
    dport, flags = struct.unpack("!H", p[1][2:4])[0], p[1][13]
    return dport == sport and flags & 0x12 == 0x12


def stream_tests(t, ctl):
    st, msg, v = ctl.add(t.port_rec("sv", "st", t.mac(30)))
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    st, msg = ctl.call(t.ADD, t.port_rec("sup", "st", b"\0" * 6, uplink=True), [b.fileno()])
    t.check("stream-refused-without-flag", st == -22 and "SEQPACKET" in msg, "%d %s" % (st, msg))
    rec = bytearray(t.port_rec("sup", "st", b"\0" * 6, uplink=True))
    rec[70] |= F_STREAM
    st, msg = ctl.call(t.ADD, bytes(rec), [b.fileno()])
    b.close()
    t.check("stream-add", st == 0, msg)
    c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    st, msg = ctl.call(t.ADD, bytes(rec).replace(b"sup\0", b"sup2"), [d.fileno()])
    t.check("stream-refuses-seqpacket-fd", st == -22 and "SOCK_STREAM" in msg, "%d %s" % (st, msg))
    c.close()
    d.close()
    c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    rec2 = bytearray(t.port_rec("svs", "st", t.mac(31)))
    rec2[70] |= F_STREAM
    st, msg = ctl.call(t.ADD, bytes(rec2), [d.fileno()])
    t.check("stream-must-be-uplink", st == -22 and "uplink" in msg, "%d %s" % (st, msg))
    c.close()
    d.close()

    ext = bytes([0x02, 0, 0, 0, 0, 0x77])
    f1 = t.eth(t.mac(30), ext, 0x800, t.udp4(bytes([192, 0, 2, 1]), t.ip4(30), data=b"pieces"))[12:]
    data = struct.pack("!I", len(f1)) + f1
    for i in range(len(data)):
        a.send(data[i:i + 1])
        if i % 16 == 0:
            time.sleep(0.002)  # the switch sees short reads
    fs = [t.eth(t.mac(30), ext, 0x800, t.udp4(bytes([192, 0, 2, 1]), t.ip4(30),
                                               data=b"batch%d" % k))[12:] for k in range(3)]
    a.send(b"".join(struct.pack("!I", len(f)) + f for f in fs))
    gv = t.drain(v, 0.3)
    t.check("stream-reassembled", len(gv) == 4 and gv[0] == b"\0" * 12 + f1
            and all(gv[k + 1] == b"\0" * 12 + fs[k] for k in range(3)), [g[-8:] for g in gv])

    # toward the stream: prefix + frame; a NEEDS_CSUM checksum is filled
    payload = b"needs-csum!"
    u = struct.pack("!HHHH", 1000, 2000, 8 + len(payload), 0) + payload
    src, dst = t.ip4(30), bytes([192, 0, 2, 1])
    part = csum(pseudo(src, dst, 17, len(u)))  # the folded pseudo-header sum
    u = u[:6] + struct.pack("!H", part) + u[8:]
    frame = ext + t.mac(30) + b"\x08\x00" + ip4_hdr(src, dst, 17, len(u)) + u
    hdr = struct.pack("<BBHHHHH", 1, 0, 0, 0, 34, 6, 0)
    v.send(hdr + frame)
    a.settimeout(1)
    try:
        got = a.recv(70000)
    except socket.timeout:
        got = b""
    ok = len(got) == 4 + len(frame) and struct.unpack("!I", got[:4])[0] == len(frame)
    ok = ok and csum(pseudo(src, dst, 17, len(u)) + got[4 + 34:]) == 0xffff
    t.check("stream-prefix-and-csum-filled", ok, got.hex())
    # GSO toward the stream: a TSO super-frame is cut into gso_size segments
    # with complete checksums; one whose headers are not TCP is refused
    v.send(struct.pack("<BBHHHHH", 0, 1, 54, 1400, 0, 0, 0) + frame)
    time.sleep(0.2)
    s = ctl.stats()
    t.check("stream-gso-not-tcp-refused", s["sup"]["drops"]["malformed"] == 1 and
            not t.drain(a, 0.1), s["sup"]["drops"])
    data = bytes(range(256)) * 12  # 3072 bytes: 1000 + 1000 + 1000 + 72
    tcp = struct.pack("!HHIIBBHHH", 5000, 80, 0xfffffc00, 7, 5 << 4, 0x18 | 0x01 | 0x80, 1000,
                      0, 0) + data
    sup = ext + t.mac(30) + b"\x08\x00" + ip4_hdr(src, dst, 6, len(tcp)) + tcp
    tx0 = s["sup"]["tx_frames"]
    v.send(struct.pack("<BBHHHHH", 1, 1, 54, 1000, 34, 16, 0) + sup)
    segs, buf = [], b""
    end = time.monotonic() + 2
    while time.monotonic() < end and len(segs) < 4:
        a.settimeout(max(0.01, end - time.monotonic()))
        try:
            buf += a.recv(70000)
        except socket.timeout:
            break
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack("!I", buf[:4])[0]:
            ln = struct.unpack("!I", buf[:4])[0]
            segs.append(buf[4:4 + ln])
            buf = buf[4 + ln:]
    ok, why = len(segs) == 4, "%d segments" % len(segs)
    got = b""
    for k, f in enumerate(segs if ok else []):
        ip, tp = f[14:34], f[34:]
        seq, flags = struct.unpack("!I", tp[4:8])[0], tp[13]
        # ACK always; CWR on the first only; PSH and FIN on the last only
        want_flags = 0x10 | (0x80 if k == 0 else 0) | (0x09 if k == 3 else 0)
        good = (csum(ip) == 0xffff and struct.unpack("!H", ip[2:4])[0] == 20 + len(tp)
                and csum(pseudo(src, dst, 6, len(tp)) + tp) == 0xffff
                and seq == (0xfffffc00 + 1000 * k) & 0xffffffff and flags == want_flags
                and len(tp) - 20 == (72 if k == 3 else 1000))
        if not good:
            ok, why = False, "segment %d: %s" % (k, f.hex()[:120])
        got += tp[20:]
    ok = ok and got == data and ctl.stats()["sup"]["tx_frames"] - tx0 == 4
    t.check("stream-gso-segmented", ok, why)

    # a peer that does not read: whole frames dropped and counted, the
    # stream stays parseable (tx_frames: 5 frames were read above)
    big = t.eth(ext, t.mac(30), 0x800, t.udp4(src, dst, data=b"q" * 1400))
    for _ in range(1500):
        v.send(big)
    time.sleep(0.5)
    s = ctl.stats()["sup"]
    a.setblocking(False)
    buf, idle = b"", 0
    while idle < 5:
        try:
            chunk = a.recv(1 << 20)
        except BlockingIOError:
            idle += 1
            time.sleep(0.05)
            continue
        if not chunk:
            break
        buf, idle = buf + chunk, 0
    n, off, whole = 0, 0, True
    while off + 4 <= len(buf):
        ln = struct.unpack("!I", buf[off:off + 4])[0]
        if ln != len(big) - 12 or buf[off + 4:off + 4 + ln] != big[12:]:
            whole = False
            break
        off += 4 + ln
        n += 1
    whole = whole and off == len(buf)
    t.check("stream-full-peer-counted", s["drops"]["peer_full"] > 0, s["drops"])
    t.check("stream-full-peer-whole-frames", whole and n + s["drops"]["peer_full"] == 1500
            and n == s["tx_frames"] - 5, "parsed %d, dropped %d, tx %d, whole %s" %
            (n, s["drops"]["peer_full"], s["tx_frames"], whole))
    a.setblocking(True)

    # garbage: a length out of range removes the port; the switch carries on
    a.send(b"\xff\xff\xff\xff" + b"\0" * 20)
    time.sleep(0.3)
    s = ctl.stats()
    t.check("stream-garbage-removes-port", "sup" not in s and "sv" in s, list(s))
    a.close()
    v.close()


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)


SERVER = r"""
import socket, sys, select, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
log = open(sys.argv[3], "a", buffering=1); log.write("ready\n")
held = []
end = time.monotonic() + 120
while time.monotonic() < end:
    if select.select([s], [], [], 1)[0]:
        c, a = s.accept(); held.append(c); log.write("conn %s\n" % a[0])
"""


def conns(path):
    try:
        return [ln.split()[1] for ln in open(path) if ln.startswith("conn")]
    except OSError:
        return []


def run_uplink_errors(t):
    """`bulkhead run --uplink`: refused with --switch and without a NIC on
    that segment (before any VM is built)."""
    guest = os.path.join(os.path.dirname(t.BH), "tests", "guest", "ticker.elf")
    base = [t.BH, "run", "--kernel", guest, "--cmdline", "idle", "--console", "none"]
    r = subprocess.run(base + ["--net", "switch=lab", "--uplink", "lab", "--switch", "/nonexistent"],
                       capture_output=True, timeout=30)
    err = r.stderr.decode(errors="replace")
    t.check("run-uplink-refused-with-switch", r.returncode == 2 and "--uplink lab" in err and
            "its own uplinks" in err, "%d %s" % (r.returncode, err[-300:]))
    r = subprocess.run(base + ["--net", "switch=blue", "--uplink", "lab"], capture_output=True,
                       timeout=30)
    err = r.stderr.decode(errors="replace")
    t.check("run-uplink-needs-its-segment", r.returncode == 2 and "no --net switch=lab" in err,
            "%d %s" % (r.returncode, err[-300:]))


def passt_tests(t):
    run_uplink_errors(t)
    names = ("passt-not-installed-names-package", "uplink-bad-kind", "passt-dhcp",
             "passt-arp-gateway", "uplink-reaches-outside", "gateway-not-host-loopback",
             "uplink-denies-loopback", "uplink-denies-host-address", "uplink-denies-rfc1918",
             "host-server-never-reached", "uplink-policy-counted", "passt-exit-reported",
             "passt-exit-port-removed", "passt-ends-with-switch", "passt-exit-at-start-fails",
             "run-uplink-starts-passt", "run-uplink-ends-with-vm")
    passt = shutil.which("passt") or ("/usr/bin/passt" if os.access("/usr/bin/passt", os.X_OK)
                                      else None)
    why = None
    if os.geteuid() != 0:
        why = "not root (network namespaces)"
    elif not passt:
        why = "passt is not installed (scripts/deps.sh check installs it)"
    elif not shutil.which("ip"):
        why = "no ip(8)"
    if why:
        for n in names:
            t.res["skip"] += 1
            print("SKIP switch/%s: %s" % (n, why))
        return
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")

    # a missing passt: a message naming the Debian package (passt hidden in
    # a mount namespace of this one command; PATH without other passts)
    o, i = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r = subprocess.run(["unshare", "-m", "sh", "-c",
                        "mount --bind /dev/null %s && exec env PATH=/nonexistent "
                        "\"$0\" switch --ctl-fd %d --uplink lab" % (passt, i.fileno()), t.BH],
                       pass_fds=[i.fileno()], capture_output=True, timeout=20, env=env)
    err = r.stderr.decode(errors="replace")
    t.check("passt-not-installed-names-package", r.returncode == 2 and
            "Debian package `passt`" in err, "%d %s" % (r.returncode, err[-300:]))
    r = subprocess.run([t.BH, "switch", "--ctl-fd", str(i.fileno()), "--uplink", "lab=slirp"],
                       pass_fds=[i.fileno()], capture_output=True, timeout=20, env=env)
    err = r.stderr.decode(errors="replace")
    t.check("uplink-bad-kind", r.returncode == 2 and "passt or tap=NAME" in err, err[-300:])
    o.close()
    i.close()

    tag = "%d" % os.getpid()
    na, nb = "bhupA" + tag, "bhupB" + tag
    d = tempfile.mkdtemp(prefix="bhuplink.")
    procs = []
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
        port = 18080
        alog, blog = os.path.join(d, "a.log"), os.path.join(d, "b.log")
        for ns, addr, log in ((na, "0.0.0.0", alog), (nb, "198.51.100.2", blog)):
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", SERVER,
                                           addr, str(port), log]))
        for _ in range(100):
            if all(os.path.exists(x) and "ready" in open(x).read() for x in (alog, blog)):
                break
            time.sleep(0.05)
        run_passt_switch(t, na, alog, blog, port, env, procs)
        # B has no default route: passt cannot work there and says so; the
        # switch fails at start naming it (exit 1)
        o, i = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        r = subprocess.run(["ip", "netns", "exec", nb, t.BH, "switch", "--ctl-fd",
                            str(i.fileno()), "--uplink", "lab"], pass_fds=[i.fileno()],
                           capture_output=True, timeout=30, env=env)
        err = r.stderr.decode(errors="replace")
        t.check("passt-exit-at-start-fails", r.returncode == 1 and
                "passt (" in err and "at start" in err, "%d %s" % (r.returncode, err[-300:]))
        o.close()
        i.close()
        run_own_switch_uplink(t, na, env)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in (na, nb):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)


def run_own_switch_uplink(t, na, env):
    """`bulkhead run --net switch=lab --uplink lab` in namespace A: the switch
    it starts runs passt; both end with the VM. Needs a KVM that runs the
    freestanding test guests."""
    guest = os.path.join(os.path.dirname(t.BH), "tests", "guest", "ticker.elf")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK) or not os.path.exists(guest):
        for n in ("run-uplink-starts-passt", "run-uplink-ends-with-vm"):
            t.res["skip"] += 1
            print("SKIP switch/%s: no usable /dev/kvm or no %s" % (n, guest))
        return
    vm = subprocess.Popen(["ip", "netns", "exec", na, t.BH, "run", "--kernel", guest, "--cmdline",
                           "idle", "--console", "none", "--net", "switch=lab", "--uplink", "lab"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    sws, passts = [], []
    end = time.monotonic() + 60
    while time.monotonic() < end and vm.poll() is None and not passts:
        try:
            sws = [k for k in children(vm.pid)
                   if open("/proc/%d/cmdline" % k, "rb").read().split(b"\0")[1:2] == [b"switch"]]
            passts = [p for k in sws for p in children(k)
                      if open("/proc/%d/comm" % p).read().startswith("passt")]
        except OSError:
            pass
        time.sleep(0.2)
    t.check("run-uplink-starts-passt", len(sws) == 1 and len(passts) == 1,
            "switch %s passt %s (the VM %s)" % (sws, passts, "runs" if vm.poll() is None
                                               else "exited"))
    vm.send_signal(signal.SIGTERM)
    try:
        vm.wait(30)
    except subprocess.TimeoutExpired:
        vm.kill()
        vm.wait()
    err = vm.stderr.read().decode(errors="replace")
    vm.stderr.close()
    end = time.monotonic() + 10
    left = sws + passts
    while time.monotonic() < end and left:
        left = [k for k in left if os.path.exists("/proc/%d" % k) and
                open("/proc/%d/stat" % k).read().split()[2] != "Z"]
        time.sleep(0.1)
    t.check("run-uplink-ends-with-vm", passts and not left, "still running: %s; %s" %
            (left, err[-500:]))


def children(pid):
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            out += [int(k) for k in open("/proc/%d/task/%s/children" % (pid, task)).read().split()]
        except OSError:
            pass
    return out


def start_switch(t, na, env, procs):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sw = subprocess.Popen(["ip", "netns", "exec", na, t.BH, "switch", "--ctl-fd",
                           str(theirs.fileno()), "--uplink", "lab"],
                          pass_fds=[theirs.fileno()], stderr=subprocess.PIPE, env=env)
    procs.append(sw)
    theirs.close()
    ours.settimeout(20)
    ctl = t.Ctl(ours)
    ctl.call(t.STATS)  # answers once it runs (passt started, jail entered)
    kids = [k for k in children(sw.pid)
            if open("/proc/%d/comm" % k).read().startswith("passt")]
    return sw, ctl, kids


def run_passt_switch(t, na, alog, blog, port, env, procs):
    sw, ctl, kids = start_switch(t, na, env, procs)
    st, _ = ctl.call(t.SUBSCRIBE)
    st, msg, vm = ctl.add(t.port_rec("vm", "lab", t.mac(1)))
    me = t.mac(1)
    # DHCP: passt offers the address of A's interface, the gateway B
    vm.send(t.eth(t.BC, me, 0x800, dhcp_discover(me, 0x1234)))
    off = frames_from(vm, 5, lambda f: (ipv4_of(f) or (b"", b""))[1][:4] == b"\x00\x43\x00\x44")
    yiaddr = router = None
    if off:
        bootp = ipv4_of(off)[1][8:]
        yiaddr = bootp[16:20]
        opts = bootp[240:]
        k = 0
        while k + 1 < len(opts) and opts[k] != 255:
            if opts[k] == 3:
                router = opts[k + 2:k + 6]
            k += 2 + opts[k + 1]
    t.check("passt-dhcp", yiaddr == HOSTA and router == OUT,
            "offer %s yiaddr %s router %s" % (bool(off), yiaddr, router))
    # ARP for the gateway
    vm.send(t.eth(t.BC, me, 0x806, t.arp(1, me, HOSTA, OUT)))
    rep = frames_from(vm, 3, lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02")
    gw = rep[22:28] if rep else None
    t.check("passt-arp-gateway", rep is not None and rep[28:32] == OUT, rep and rep.hex())
    if not gw:
        return
    # the outside (B, which is also the gateway) answers a SYN through passt
    vm.send(t.eth(gw, me, 0x800, tcp_syn(HOSTA, OUT, 40001, port)))
    sa = frames_from(vm, 5, lambda f: is_synack(f, 40001))
    end = time.monotonic() + 3
    while sa and not conns(blog) and time.monotonic() < end:
        time.sleep(0.05)  # B's server accepts after the handshake
    t.check("uplink-reaches-outside", sa is not None and "198.51.100.1" in conns(blog),
            "syn-ack %s, B saw %s" % (sa is not None, conns(blog)))
    t.check("gateway-not-host-loopback", not conns(alog), conns(alog))
    p0 = ctl.stats()["vm"]["drops"]["policy"]
    for name, dst, sport in (("uplink-denies-loopback", b"\x7f\0\0\x01", 40002),
                             ("uplink-denies-host-address", HOSTA, 40003),
                             ("uplink-denies-rfc1918", bytes([10, 1, 2, 3]), 40004)):
        vm.send(t.eth(gw, me, 0x800, tcp_syn(HOSTA, dst, sport, port)))
        sa = frames_from(vm, 1, lambda f, sp=sport: is_synack(f, sp))
        t.check(name, sa is None, "a SYN-ACK came back")
    time.sleep(0.3)
    t.check("host-server-never-reached", not conns(alog), conns(alog))
    s = ctl.stats()
    t.check("uplink-policy-counted", s["vm"]["drops"]["policy"] - p0 == 3 and
            s["up-lab"]["uplink"], s["vm"]["drops"])
    # passt exits: reported, its port removed, the switch carries on
    for k in kids:
        os.kill(k, signal.SIGKILL)
    evs = []
    end = time.monotonic() + 5
    while time.monotonic() < end and not evs:
        time.sleep(0.1)
        s = ctl.stats()
        evs = [e for e in ctl.events if e.get("event") == "uplink_exit"]
    t.check("passt-exit-reported", len(kids) == 1 and evs and evs[0]["port"] == "up-lab" and
            "signal 9" in evs[0]["how"], (kids, ctl.events))
    t.check("passt-exit-port-removed", "up-lab" not in s and "vm" in s, list(s))
    vm.close()
    sw.send_signal(signal.SIGTERM)
    try:
        sw.wait(10)
    except subprocess.TimeoutExpired:
        sw.kill()
    sw.stderr.close()
    ctl.s.close()
    # a second switch: its owner hangs up with no VM port left (the uplink
    # does not keep it running); its passt ends with it
    sw, ctl, kids = start_switch(t, na, env, procs)
    ctl.s.close()
    try:
        rc = sw.wait(10)
    except subprocess.TimeoutExpired:
        sw.kill()
        rc = "still running"
    sw.stderr.close()
    time.sleep(0.2)
    gone = all(not os.path.exists("/proc/%d" % k) or
               open("/proc/%d/stat" % k).read().split()[2] == "Z" for k in kids)
    t.check("passt-ends-with-switch", len(kids) == 1 and gone and rc == 0, (kids, rc))
