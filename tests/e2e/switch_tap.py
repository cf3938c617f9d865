"""switch_tap.py — `bulkhead switch --uplink SEGMENT=tap=NAME`, run from
switch_tests.py (helpers `t`: check(), port_rec(), Ctl, eth(), ...), with
switch_uplink.py's frame helpers.

In network namespaces the test creates (never any outside address):
namespace A holds the tap "bhtap0" (198.51.100.1/24, the segment's gateway:
A forwards), the switch, and a TCP server on 0.0.0.0:PORT; namespace B is
"the outside" (203.0.113.2, a TCP server; routed back to the segment via
A). Acting as a VM port (198.51.100.5): an ARP request for the gateway is
answered by A's kernel through the tap (both directions work); a SYN to
B's server is answered by B, routed through A; a SYN to A's own address (the host) and
to an RFC 1918 address are dropped by the egress policy (counted) and A's
server never sees a connection. Refused: a tap that does not exist (named
in the message), a bad tap name; a tap descriptor that is not a character
device (over the control protocol).
"""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import switch_uplink as u

GW = bytes([198, 51, 100, 1])
ME = bytes([198, 51, 100, 5])
OUT = bytes([203, 0, 113, 2])
F_TAP = 16
NAMES = ("tap-missing-refused", "tap-bad-name-refused", "tap-not-chardev-refused",
         "tap-arp-gateway", "tap-reaches-outside", "tap-denies-host-address",
         "tap-denies-rfc1918", "tap-host-server-never-reached", "tap-policy-counted")


def tap_tests(t):
    why = None
    if os.geteuid() != 0:
        why = "not root (network namespaces, taps)"
    elif not shutil.which("ip"):
        why = "no ip(8)"
    elif not os.path.exists("/dev/net/tun"):
        why = "no /dev/net/tun"
    if why:
        for n in NAMES:
            t.res["skip"] += 1
            print("SKIP switch/%s: %s" % (n, why))
        return
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    # over the control protocol: a tap port's descriptor must be a tap
    o, i = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sw = subprocess.Popen([t.BH, "switch", "--ctl-fd", str(i.fileno())], pass_fds=[i.fileno()],
                          stderr=subprocess.DEVNULL, env=env)
    i.close()
    o.settimeout(20)
    ctl = t.Ctl(o)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    rec = bytearray(t.port_rec("tup", "x", b"\0" * 6, uplink=True))
    rec[70] |= F_TAP
    st, msg = ctl.call(t.ADD, bytes(rec), [b.fileno()])
    t.check("tap-not-chardev-refused", st == -22 and "character device" in msg, "%d %s" % (st, msg))
    a.close()
    b.close()
    o.close()
    try:
        sw.wait(10)
    except subprocess.TimeoutExpired:
        sw.kill()
        sw.wait()

    tag = "%d" % os.getpid()
    na, nb = "bhtapA" + tag, "bhtapB" + tag
    d = tempfile.mkdtemp(prefix="bhtap.")
    procs = []
    try:
        u.sh("ip", "netns", "add", na)
        u.sh("ip", "netns", "add", nb)
        r = subprocess.run(["ip", "netns", "exec", na, t.BH, "switch", "--listen",
                            os.path.join(d, "m"), "--uplink", "lab=tap=nosuch0"],
                           capture_output=True, timeout=20, env=env)
        err = r.stderr.decode(errors="replace")
        t.check("tap-missing-refused", r.returncode != 0 and "nosuch0" in err and
                "no such interface" in err, "%d %s" % (r.returncode, err[-300:]))
        r = subprocess.run([t.BH, "switch", "--listen", os.path.join(d, "s"), "--uplink",
                            "lab=tap=a/b"], capture_output=True, timeout=20, env=env)
        err = r.stderr.decode(errors="replace")
        t.check("tap-bad-name-refused", r.returncode == 2 and "tap name" in err, err[-300:])

        u.sh("ip", "-n", na, "tuntap", "add", "bhtap0", "mode", "tap")
        u.sh("ip", "-n", na, "addr", "add", "198.51.100.1/24", "dev", "bhtap0")
        u.sh("ip", "-n", na, "link", "set", "bhtap0", "up")
        u.sh("ip", "-n", na, "link", "add", "vA", "type", "veth", "peer", "name", "vB", "netns", nb)
        u.sh("ip", "-n", na, "addr", "add", "203.0.113.1/24", "dev", "vA")
        u.sh("ip", "-n", nb, "addr", "add", "203.0.113.2/24", "dev", "vB")
        for ns, dev in ((na, "vA"), (nb, "vB")):
            u.sh("ip", "-n", ns, "link", "set", "lo", "up")
            u.sh("ip", "-n", ns, "link", "set", dev, "up")
        u.sh("ip", "-n", nb, "route", "add", "198.51.100.0/24", "via", "203.0.113.1")
        u.sh("ip", "netns", "exec", na, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        port = 18081
        alog, blog = os.path.join(d, "a.log"), os.path.join(d, "b.log")
        for ns, addr, log in ((na, "0.0.0.0", alog), (nb, "203.0.113.2", blog)):
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", u.SERVER,
                                           addr, str(port), log]))
        for _ in range(100):
            if all(os.path.exists(x) and "ready" in open(x).read() for x in (alog, blog)):
                break
            time.sleep(0.05)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sw = subprocess.Popen(["ip", "netns", "exec", na, t.BH, "switch", "--ctl-fd",
                               str(theirs.fileno()), "--uplink", "lab=tap=bhtap0"],
                              pass_fds=[theirs.fileno()], stderr=subprocess.PIPE, env=env)
        procs.append(sw)
        theirs.close()
        ours.settimeout(20)
        ctl = t.Ctl(ours)
        ctl.call(t.STATS)
        st, msg, vm = ctl.add(t.port_rec("vm", "lab", t.mac(1), ip=ME))
        me = t.mac(1)
        vm.send(t.eth(t.BC, me, 0x806, t.arp(1, me, ME, GW)))
        rep = u.frames_from(vm, 3, lambda f: f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02")
        gw = rep[22:28] if rep else None
        t.check("tap-arp-gateway", rep is not None and rep[28:32] == GW, rep and rep.hex())
        if gw:
            vm.send(t.eth(gw, me, 0x800, u.tcp_syn(ME, OUT, 41001, port)))
            sa = u.frames_from(vm, 5, lambda f: u.is_synack(f, 41001))
            # routed, not proxied: B's kernel itself answers (from B's address)
            ip = u.ipv4_of(sa) if sa else None
            t.check("tap-reaches-outside", ip is not None and ip[0][12:16] == OUT and
                    ip[0][16:20] == ME, "syn-ack %s" % (sa.hex() if sa else None))
            p0 = ctl.stats()["vm"]["drops"]["policy"]
            for name, dst, sport in (("tap-denies-host-address", GW, 41002),
                                     ("tap-denies-rfc1918", bytes([10, 1, 2, 3]), 41003)):
                vm.send(t.eth(gw, me, 0x800, u.tcp_syn(ME, dst, sport, port)))
                sa = u.frames_from(vm, 1, lambda f, sp=sport: u.is_synack(f, sp))
                t.check(name, sa is None, "a SYN-ACK came back")
            time.sleep(0.3)
            t.check("tap-host-server-never-reached", not u.conns(alog), u.conns(alog))
            s = ctl.stats()
            t.check("tap-policy-counted", s["vm"]["drops"]["policy"] - p0 == 2 and
                    s["up-lab"]["uplink"], s["vm"]["drops"])
        else:
            for n in NAMES[4:]:
                t.check(n, False, "no ARP reply from the gateway")
        vm.close()
        ours.close()
        try:
            sw.wait(10)
        except subprocess.TimeoutExpired:
            sw.kill()
        sw.stderr.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in (na, nb):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)


def ll6_frame(t, src_mac, src_ip, data):
    dst_mac = b"\x33\x33\x00\x00\x00\x01"
    dst_ip = b"\xff\x02" + b"\0" * 13 + b"\x01"
    udp = struct.pack("!HHHH", 1000, 2000, 8 + len(data), 0) + data
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 255, src_ip, dst_ip)
    return t.eth(dst_mac, src_mac, 0x86dd, ip6 + udp)


def ll6_tests(t, ctl):
    """A stable-privacy link-local (not EUI-64) passes port security and is
    learned for its port: a neighbour that sends from it is a spoofer."""
    sp = bytes([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x3c, 0x91, 0x5e, 0x02, 0x77, 0xa1, 0x0b, 0x42])
    st, _, a = ctl.add(t.port_rec("lla", "ll", t.mac(61)))
    st2, _, b = ctl.add(t.port_rec("llb", "ll", t.mac(62)))
    a.send(ll6_frame(t, t.mac(61), sp, b"stable-privacy"))
    got = t.drain(b, 0.3)
    t.check("ll6-stable-privacy-passes", st == 0 and st2 == 0 and
            any(b"stable-privacy" in g for g in got), got)
    b.send(ll6_frame(t, t.mac(62), sp, b"stolen"))
    got = t.drain(a, 0.3)
    s = ctl.stats()
    t.check("ll6-learned-not-for-neighbour", not any(b"stolen" in g for g in got) and
            s["llb"]["drops"]["spoof_ip"] == 1, (got, s["llb"]["drops"]))
    a.close()
    b.close()
