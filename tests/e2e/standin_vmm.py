#!/usr/bin/env python3
"""standin_vmm.py — a host-side stand-in for `bulkhead run` under bulkheadd.

bulkheadd starts it exactly as it starts the real VMM:
    standin_vmm.py run --config /proc/self/fd/4 --console file:PATH \
        --console-max N --control-fd 3
or, for a VM made from a snapshot,
    standin_vmm.py restore --snapshot-fds 5,6,7 --console file:PATH \
        --console-max N --control-fd 3 [--paused]
(its configuration is then the one recorded in the state file).
and it speaks the real control protocol (src/ctl/ctl_proto.h, version 2: a
32-byte header, a reply's payload starting with the 32-byte ctl_status, over
the inherited SOCK_SEQPACKET listening socket, fd 3). What it
does is chosen by the VM config's "cmdline" (mode=...): it is the hostile or
broken VMM the daemon must survive, where no real VM is needed to be one.

  honest   answer every request truthfully; "tick" to the console every 20 ms
           unless paused
  lie      answer pause/quarantine with success (and claim to be paused)
           but keep ticking
  badseq   answer with the wrong sequence number
  garbage  answer with a record of the wrong size and magic
  alloc    allocate and touch memory without bound (16 MiB steps, reported on
           stderr) while answering honestly
  flood    write 4 MiB to stderr, then behave honestly
  nosnap   refuse snapshots (-ENOTSUP, as a VM with a device that cannot save)
  snapdisk honest, but its snapshots record a disk (/etc/hostname) that the
           VM's configuration does not have (a VMM its guest took over)
  linger   honest, with a child in its cgroup that holds the VM's memory size,
           touched, and ends 0.5 s after this process, as the real VMM's
           jailed VM process outlives the exit its supervisor reported (the
           kernel still tearing the VM down)
vsock: a config with "vsock" gets its hybrid-vsock socket (bound and
listening, like the real VMM's); "CONNECT 1024" is answered "OK 1024" and the
connection handed to the real guest agent (`bulkhead-agent --fd`, whose path
is the cmdline's agent=PATH: the host stands in for the guest) when there is
one, else closed (nothing listens in the "guest").
A snapshot request (type 10, two descriptors) is answered by writing a state
file the daemon's checks accept (header, the configuration, empty CPUID, VM,
devices and vCPU sections: snap_format.h) and a sparse memory file of the
VM's size, then pausing (unless asked to resume).
It also reports on stderr what the daemon gave it (argv, its cgroup, whether
the daemon's own config.json is readable to it, its NICs' port descriptors).

NICs: each `nets[i]` with "port" (the daemon's switch port, handed in with
--fd NAME=N) is used like a virtio-net backend would: frames received are
written to the console ("net0 rx src=MAC len=N"), and the cmdline's net=...
chooses what it sends (src/ctl/net_port.h: 12-byte header + frame) every
100 ms while running:
  net=probe  an ARP probe from its own MAC (legal: forwarded to the segment)
  net=spoof  the same with a source MAC that is not its own (a violation)
"""
import json
import os
import select
import socket
import struct
import sys
import time

HDR = "<IHHIiIIII"      # magic version type seq status flags payload_len nfds reserved
STATUS_FMT = "<IIQQQ"   # state ncpus exits io_exits mmio_exits
MAGIC, VERSION, REPLY = 0x54434842, 2, 0x8000
STATUS, PAUSE, RESUME, STOP, QUARANTINE = 1, 2, 3, 4, 5
SNAPSHOT = 10


def mem_bytes(cfg):
    m = str(cfg.get("mem", "64M"))
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(m[:-1]) * units[m[-1].upper()] if m[-1].upper() in units else int(m) << 20


def snapshot_state(cfg_text, cfg):
    """A state file snap_parse() accepts: 1 vCPU, the VM's RAM (< 3 GiB)."""
    mem = mem_bytes(cfg)
    secs = [(1, 0, cfg_text), (2, 0, b""), (4, 0, b""), (5, 0, b""), (3, 0, b"")]
    hdr = b"BHSNAP\0\n" + struct.pack("<HHI", 1, 0, 128) + b"standin".ljust(32, b"\0")
    template = 0 if cfg.get("cpu_template") == "host" else 1  # arch/x86/cpuid.h
    hdr += struct.pack("<IIQII", 1, template, mem, 1, len(secs))
    hdr += struct.pack("<QQQQ", 0, mem, 0, 0) + b"\0" * 24
    body = b"".join(struct.pack("<IIIIQ", t, i, 1, 0, len(d)) + d for t, i, d in secs)
    return hdr + body, mem


def state_config(data):
    """The configuration section of a state file (as snapshot_state wrote it)."""
    off = 128
    while off < len(data):
        t, _, _, _, n = struct.unpack("<IIIIQ", data[off:off + 24])
        if t == 1:
            return data[off + 24:off + 24 + n]
        off += 24 + n
    raise SystemExit("standin: no configuration in the state file")


def log(msg):
    sys.stderr.write("standin: %s\n" % msg)
    sys.stderr.flush()


def vsock_accept(vs, agent):
    """One host connection on the vsock socket: the hybrid-vsock handshake,
    then the agent (a child process) on it, or a close."""
    c, _ = vs.accept()
    c.settimeout(2)
    line = b""
    try:
        while not line.endswith(b"\n") and len(line) < 64:
            b = c.recv(1)
            if not b:
                break
            line += b
    except OSError:
        pass
    if line != b"CONNECT 1024\n" or not agent:
        log("vsock: %r refused (agent %s)" % (line, agent or "none"))
        c.close()
        return
    c.settimeout(None)
    c.sendall(b"OK 1024\n")
    pid = os.fork()
    if pid == 0:
        try:
            fd = c.fileno()
            os.set_inheritable(fd, True)
            os.execv(agent, [agent, "--fd", str(fd)])
        finally:
            os._exit(127)
    c.close()
    log("vsock: agent %d on a host connection" % pid)


def main():
    args = sys.argv[1:]
    console = args[args.index("--console") + 1]
    assert console.startswith("file:")
    console = console[5:]
    restored = args[0] == "restore"
    if restored:
        fds = [int(x) for x in args[args.index("--snapshot-fds") + 1].split(",")]
        with os.fdopen(fds[1], "rb") as f:
            cfg_text = state_config(f.read())
        log("restored from a snapshot (memory fd of %d bytes)" % os.fstat(fds[2]).st_size)
    else:
        cfg_text = open(args[args.index("--config") + 1], "rb").read()
    cfg = json.loads(cfg_text)
    mode = "honest"
    for word in cfg.get("cmdline", "").split():
        if word.startswith("mode="):
            mode = word[5:]
    net = ""
    for word in cfg.get("cmdline", "").split():
        if word.startswith("net="):
            net = word[4:]
    named = {}
    for i, a in enumerate(args):
        if a == "--fd" and i + 1 < len(args):
            k, _, v = args[i + 1].partition("=")
            named[k] = int(v)
    ports = []
    for i, nic in enumerate(cfg.get("nets", [])):
        if "port" in nic:
            fd = named[nic["port"]]
            ports.append((i, socket.socket(fileno=fd), bytes.fromhex(nic["mac"].replace(":", ""))))
            log("nic %d port %s fd %d mac %s" % (i, nic["port"], fd, nic["mac"]))
    log("argv %s" % " ".join(args))
    log("mode %s uid %d" % (mode, os.getuid()))
    if mode == "linger":
        # A VM process of its own, as the real VMM's jail has: it holds the
        # VM's memory, touched, and outlives this process by 0.5 s.
        parent = os.getpid()
        if os.fork() == 0:
            ram = bytearray(mem_bytes(cfg))
            for i in range(0, len(ram), 4096):
                ram[i] = 1
            while os.getppid() == parent:
                time.sleep(0.01)
            time.sleep(0.5)
            os._exit(0)
    with open("/proc/self/cgroup") as f:
        for line in f:
            log("cgroup " + line.strip())
    state_cfg = os.path.join(os.path.dirname(console), "config.json")
    try:
        open(state_cfg).close()
        log("daemon-config readable")
    except OSError as e:
        log("daemon-config unreadable: %s" % e.strerror)
    if mode == "flood":
        chunk = "x" * 1023 + "\n"
        for _ in range(4096):
            sys.stderr.write(chunk)
        sys.stderr.flush()
    agent = ""
    for word in cfg.get("cmdline", "").split():
        if word.startswith("agent="):
            agent = word[6:]
    vs = None
    if cfg.get("vsock", {}).get("socket"):
        path = cfg["vsock"]["socket"]
        if os.path.exists(path):
            os.unlink(path)
        vs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        vs.bind(path)
        vs.listen(8)
        log("vsock socket %s" % path)
    ls = socket.socket(fileno=3)
    conn = None
    paused = restored and "--paused" in args
    quarantined = False
    exits = 0
    hoard = []
    out = open(console, "a")
    next_tick = next_net = time.monotonic()
    while True:
        fds = [ls] + ([conn] if conn else []) + [p[1] for p in ports] + ([vs] if vs else [])
        r, _, _ = select.select(fds, [], [], 0.02)
        if vs and vs in r:
            vsock_accept(vs, agent)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        for i, ps, mac in ports:
            if ps in r:
                try:
                    m = ps.recv(70000)
                except OSError:
                    m = b""
                if len(m) >= 26:
                    out.write("net%d rx src=%s len=%d\n" % (i, m[18:24].hex(":"), len(m) - 12))
                    out.flush()
        if ls in r:
            c, _ = ls.accept()
            if conn:
                conn.close()
            conn = c
        if conn and conn in r:
            data, anc, _, _ = conn.recvmsg(128, socket.CMSG_SPACE(4 * 4))
            got = []
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got += list(struct.unpack("<%di" % (len(cdata) // 4), cdata[:len(cdata) // 4 * 4]))
            if not data:
                conn.close()
                conn = None
                continue
            f = struct.unpack(HDR, data[:32].ljust(32, b"\0"))
            typ, seq = f[2], f[3]
            status = 0
            if typ == PAUSE:
                paused = True
            elif typ == QUARANTINE:
                quarantined = paused = True
            elif typ == RESUME:
                if quarantined:
                    status = -1  # -EPERM
                else:
                    paused = False
            elif typ == SNAPSHOT and len(got) == 2 and mode != "nosnap":
                flags = struct.unpack("<II", data[32:40])[0]
                rec = cfg_text
                if mode == "snapdisk":  # a VMM that records a disk its VM lacks
                    c2 = json.loads(cfg_text)
                    c2["disks"] = [{"path": "/etc/hostname", "read_only": True}]
                    rec = json.dumps(c2).encode()
                state, mem = snapshot_state(rec, cfg)
                os.pwrite(got[0], state, 0)
                os.ftruncate(got[1], mem)
                os.pwrite(got[1], b"standin memory", 4096)
                paused = paused or not (flags & 1)
                log("snapshot written (%d bytes of state)" % len(state))
            elif typ == SNAPSHOT:
                status = -95  # -ENOTSUP: "a device cannot save its state"
            elif typ == STOP:
                log("stop requested: powering off")
                return 0
            st = (1 if paused else 0) | (2 if quarantined else 0)
            if mode == "badseq":
                seq += 1
            rep = struct.pack(HDR, MAGIC, VERSION, typ | REPLY, seq, status, 0, 32, 0, 0) + \
                struct.pack(STATUS_FMT, st, 1, exits, 0, 0)
            if mode == "garbage":
                rep = b"\xff" * 40
            for fd in got:
                os.close(fd)
            conn.send(rep)
        now = time.monotonic()
        if net and not paused and now >= next_net:
            next_net = now + 0.1
            for i, ps, mac in ports:
                src = mac if net == "probe" else b"\x02\xee\xee\xee\xee\xee"
                arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x800, 6, 4, 1, src, b"\0" * 4,
                                  b"\0" * 6, b"\x0a\0\0\x63")
                try:
                    ps.send(b"\0" * 12 + b"\xff" * 6 + src + b"\x08\x06" + arp)
                except OSError:
                    pass
        if now >= next_tick:
            next_tick = now + 0.02
            if not (paused and mode != "lie"):
                exits += 1
                out.write("tick %d\n" % exits)
                out.flush()
            if mode == "alloc":
                b = bytearray(16 << 20)
                b[::4096] = b"\1" * ((16 << 20) // 4096)  # touch every page
                hoard.append(b)
                log("allocated %d MiB" % (16 * len(hoard)))


if __name__ == "__main__":
    sys.exit(main())
