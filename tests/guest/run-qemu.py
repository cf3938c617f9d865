#!/usr/bin/env python3
"""run-qemu.py — cross-check the test guests under QEMU (TCG by default, no
KVM needed) using cases.txt, before or besides bulkhead.

QEMU boots the ELFs through their PVH note. Outcomes are mapped to bulkhead's
exit codes: isa-debug-exit at 0xf4 makes QEMU exit (status << 1) | 1, so
1 -> 0 and other odd codes -> 5 (test failure, status (rc-1)/2); with
-no-reboot a reset exits 0 (-> 0) unless QEMU logged "Triple fault" (-> 3).
Unless a case asks for --boot-protocol pvh, "rt.linux64" is appended to the
command line so the runtime re-enters itself through bulkhead's default 64-bit
entry path (zero page). bulkhead-only expectations (stderr text, the check-in
port, the test device's presence) are not checked here.

Disks: `--disk path=@IMG@[,ro=on][,id=NAME]` becomes a modern-only
virtio-blk-pci device (disable-legacy=on, serial=NAME) on a `pc` machine
(microvm has no PCI), the images fresh zero-filled 8 MiB files whose md5 the
case's sixth field may check. QEMU 7.2 deviates from docs/virtio.md in places:
QEMU_APPEND adds a guest switch that accepts QEMU's answer where only the
value differs; the virtio_hostile cases QEMU handles differently
(QEMU_DIFFERS, each with how) run as expected failures: the guest must fail
with the symptom listed there.

usage: run-qemu.py [--builddir DIR] [--accel tcg|kvm] [-v] [NAME ...]
"""
import argparse, hashlib, os, re, shlex, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DISK_MIB = 8

# Guest switches for QEMU's deviations (see the guests' headers).
QEMU_APPEND = {"virtio_blk": "vblk.qemu", "virtio_balloon": "vb.qemu"}
# virtio_hostile cases where QEMU 7.2 does not do what docs/virtio.md says
# (mirrors the table in virtio_hostile.c; `case=list` prints it): how it
# differs, and the symptom the guest reports under QEMU. They run as expected
# failures: the guest must fail (exit 5) with that symptom, so a QEMU that
# changes, or a guest check that stops checking, is noticed.
QEMU_DIFFERS = {
    "len_overflow": ("no total-length check: IOERR (past the end)", "no DEVICE_NEEDS_RESET"),
    "too_many_segs": ("accepts up to seg_max 254: completes OK", "no DEVICE_NEEDS_RESET"),
    "beyond_ram": ("maps unassigned addresses through a bounce buffer: completes",
                   "no DEVICE_NEEDS_RESET"),
    "straddle_ram": ("maps unassigned addresses through a bounce buffer: completes",
                     "no DEVICE_NEEDS_RESET"),
    "in_hole": ("maps unassigned addresses through a bounce buffer: completes",
                "no DEVICE_NEEDS_RESET"),
    "indirect": ("processes INDIRECT without negotiation", "no DEVICE_NEEDS_RESET"),
    "dup_head": ("does not track heads in flight: serves both",
                 "no DEVICE_NEEDS_RESET (status f, used idx 2)"),
    "blk_badframe": ("NEEDS_RESET instead of completing with length 0", "completion: id -2"),
    "blk_wrongdir": ("treats wrong-direction data as absent: OK",
                     "IN with readable data: status 0, want IOERR"),
    "blk_getid_short": ("truncates the serial: OK", "GET_ID with 8 bytes: status 0, want IOERR"),
    "qsize_npot": ("accepts sizes that are not powers of two",
                   "queue_size 100 after writing 100 (max 256): not ignored"),
    "qsize_big": ("accepts sizes up to 1024", "queue_size 512 after writing 512 (max 256): not ignored"),
    "qreg_before_fok": ("queue registers writable before FEATURES_OK",
                        "queue registers written before FEATURES_OK"),
    "qreg_after_ok": ("queue registers writable after DRIVER_OK",
                      "queue registers changed after DRIVER_OK"),
    "qreg_enabled": ("registers of an enabled queue writable",
                     "registers of an enabled queue changed"),
    "qsel_range": ("keeps per-index register copies; 0xffff select ignored",
                   "queue 1 (of 1) registers not all 0"),
    "features_unoffered": ("masks unoffered bits, FEATURES_OK sticks",
                           "FEATURES_OK stuck with an unoffered bit"),
    "features_nov1": ("FEATURES_OK sticks without VERSION_1", "FEATURES_OK stuck without VERSION_1"),
    "ring_misaligned": ("does not validate ring alignment", "queue enabled with bad rings"),
    "ring_hole": ("does not validate ring placement", "queue enabled with bad rings"),
    # (-M pc has its ISA bridge in slot 1, so the disk sits in slot 4: the
    # guest's first identity check already differs)
    "pci_identity": ("subsystem ID 0x1100, not the device ID; disk in slot 4",
                     "first disk at 04.0, not 01.0"),
}


def parse_cases(path):
    cases = []
    for ln in open(path):
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        f = [x.strip() for x in ln.split("|")]
        f += [""] * (6 - len(f))
        cases.append(dict(name=f[0], args=f[1], exit=int(f[2]), stdout=f[3], stderr=f[4],
                          images=f[5]))
    return cases


# virtio_balloon cases where QEMU 7.2 differs (virtio_balloon.c), likewise.
QEMU_DIFFERS_BALLOON = {
    "report_bad": ("maps a reported range in the MMIO hole through a bounce buffer: completes",
                   "did not make the device need reset"),
}


def differs(case):
    """(how QEMU differs, the guest's symptom) for a known deviation, or None."""
    m = re.search(r"case=(\S+)", case["args"])
    if case["name"] == "virtio_hostile" and m and m.group(1) in QEMU_DIFFERS:
        return QEMU_DIFFERS[m.group(1)]
    if case["name"] == "virtio_balloon" and m and m.group(1) in QEMU_DIFFERS_BALLOON:
        return QEMU_DIFFERS_BALLOON[m.group(1)]
    return None


def qemu_cmd(case, elf, accel, log, images):
    argv = shlex.split(case["args"])
    smp, mem, append, proto = "1", "64M", "", "auto"
    disks = []
    i = 0
    while i < len(argv):
        a = argv[i]
        v = argv[i + 1] if i + 1 < len(argv) else ""
        if a == "--cpus":
            smp = v
        elif a == "--mem":
            mem = v if v[-1:].isalpha() else v + "M"
        elif a == "--cmdline":
            append = v
        elif a == "--boot-protocol":
            proto = v
        elif a == "--balloon":
            # the device bulkhead's --balloon is (stats queue, deflate-on-OOM,
            # free page reporting); QEMU has no target at boot: num_pages is 0
            disks += ["-device", "virtio-balloon-pci,disable-legacy=on,deflate-on-oom=on,"
                      "free-page-reporting=on,addr=8"]
            i += 1
            continue
        elif a == "--balloon-target":
            pass  # set over QMP in QEMU; the guest is told (QEMU_APPEND)
        elif a == "--disk":
            opts = dict(kv.split("=", 1) for kv in v.split(","))
            path = opts["path"]
            for tag in re.findall(r"@(\w+)@", path):
                path = path.replace(f"@{tag}@", images[tag])
            n = len(disks)
            drive = f"file={path},if=none,id=d{n},format=raw"
            if opts.get("ro") == "on":
                drive += ",readonly=on"
            dev = f"virtio-blk-pci,drive=d{n},disable-legacy=on,addr={4 + n}"
            if opts.get("id"):
                dev += f",serial={opts['id']}"
            disks += ["-drive", drive, "-device", dev]
        else:
            raise SystemExit(f"run-qemu: unknown bulkhead arg {a}")
        i += 2
    # QEMU enters through PVH; the runtime turns that into bulkhead's default
    # 64-bit entry (fake zero page, re-entry at _start) when it sees rt.linux64.
    if proto != "pvh":
        append = (append + " rt.linux64").strip()
    if case["name"] in QEMU_APPEND:
        append += " " + QEMU_APPEND[case["name"]]
    # microvm has no i8042 (the keyboard-controller reset needs a PC) and no PCI.
    machine = ["-M", "pc"] if case["name"] == "i8042_reset" or disks else \
        ["-M", "microvm,x-option-roms=off,rtc=on"]
    return ["qemu-system-x86_64", *machine, "-accel", accel, "-cpu", "max", "-m", mem,
            "-smp", smp, "-nodefaults", "-nographic", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-d", "cpu_reset", "-D", log,
            *disks, "-kernel", elf, "-append", append]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("-v", action="store_true")
    ap.add_argument("names", nargs="*")
    o = ap.parse_args()
    fails = passed = xfails = 0
    for c in parse_cases(os.path.join(HERE, "cases.txt")):
        if o.names and c["name"] not in o.names:
            continue
        dev = differs(c)
        # QEMU has no test device: 0xf8 reads all-ones, the guest says "absent".
        want_out = c["stdout"].replace("test device: present", "test device: absent")
        elf = os.path.join(o.builddir, "tests", "guest", c["name"] + ".elf")
        with tempfile.NamedTemporaryFile(suffix=".log") as lf, \
                tempfile.TemporaryDirectory(prefix="run-qemu.") as td:
            images = {}
            for tag in re.findall(r"@(\w+)@", c["args"]):
                images[tag] = os.path.join(td, tag + ".img")
                with open(images[tag], "wb") as f:
                    f.truncate(DISK_MIB << 20)
            cmd = qemu_cmd(c, elf, o.accel, lf.name, images)
            try:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=o.timeout)
                rc, out = p.returncode, p.stdout.decode(errors="replace")
            except subprocess.TimeoutExpired as e:
                rc, out = None, (e.stdout or b"").decode(errors="replace")
            triple = "Triple fault" in open(lf.name, errors="replace").read()
            img_bad = []
            for chk in c["images"].split():
                tag, want = chk.split("=", 1)
                with open(images[tag], "rb") as f:
                    got_md5 = hashlib.md5(f.read()).hexdigest()
                if got_md5 != want:
                    img_bad.append(f"{tag} md5 {got_md5}, want {want}")
        if rc is None:
            got = "timeout"
        elif rc == 0:
            got = 3 if triple else 0
        elif rc == 1:
            got = 0
        elif rc & 1:
            got = 5
        else:
            got = f"qemu rc {rc}"
        if dev:
            # Expected failure: the guest fails, with the documented symptom.
            ok = got == 5 and dev[1] in out
            xfails += ok
            note = f"expected failure, QEMU 7.2: {dev[0]}" if ok else \
                f"want the expected failure '{dev[1]}' (QEMU 7.2: {dev[0]}); " \
                "if QEMU now behaves as docs/virtio.md says, drop it from QEMU_DIFFERS"
        else:
            ok = got == c["exit"] and want_out in out.replace("\r", "") and not img_bad
            st = re.search(r"status=(\S+)", c["args"])
            if ok and got == 5 and st and "test status" in c["stderr"]:
                ok = (rc - 1) // 2 == int(st.group(1), 0)
            note = ""
        fails += not ok
        passed += ok
        print(f"{'ok  ' if ok else 'FAIL'} {c['name']:13} {c['args']:50} -> {got} (qemu rc {rc})"
              + (f" [{note}]" if note else ""))
        if o.v or not ok:
            print("     $ " + shlex.join(cmd))
            print("     " + out.replace("\r", "").strip().replace("\n", "\n     "))
            for b in img_bad:
                print("     image: " + b)
    print(f"{passed} passed, {fails} failed, 0 skipped ({xfails} of them expected failures: QEMU differs)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
