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

usage: run-qemu.py [--builddir DIR] [--accel tcg|kvm] [-v] [NAME ...]
"""
import argparse, os, re, shlex, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_cases(path):
    cases = []
    for ln in open(path):
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        f = [x.strip() for x in ln.split("|")]
        f += [""] * (5 - len(f))
        cases.append(dict(name=f[0], args=f[1], exit=int(f[2]), stdout=f[3], stderr=f[4]))
    return cases


def qemu_cmd(case, elf, accel, log):
    argv = shlex.split(case["args"])
    smp, mem, append, proto = "1", "64M", "", "auto"
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
        else:
            raise SystemExit(f"run-qemu: unknown bulkhead arg {a}")
        i += 2
    # QEMU enters through PVH; the runtime turns that into bulkhead's default
    # 64-bit entry (fake zero page, re-entry at _start) when it sees rt.linux64.
    if proto != "pvh":
        append = (append + " rt.linux64").strip()
    # microvm has no i8042: the keyboard-controller reset needs a PC.
    machine = ["-M", "pc"] if case["name"] == "i8042_reset" else \
        ["-M", "microvm,x-option-roms=off,rtc=on"]
    return ["qemu-system-x86_64", *machine, "-accel", accel, "-cpu", "max", "-m", mem,
            "-smp", smp, "-nodefaults", "-nographic", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-d", "cpu_reset", "-D", log,
            "-kernel", elf, "-append", append]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("-v", action="store_true")
    ap.add_argument("names", nargs="*")
    o = ap.parse_args()
    fails = 0
    for c in parse_cases(os.path.join(HERE, "cases.txt")):
        if o.names and c["name"] not in o.names:
            continue
        # QEMU has no test device: 0xf8 reads all-ones, the guest says "absent".
        want_out = c["stdout"].replace("test device: present", "test device: absent")
        elf = os.path.join(o.builddir, "tests", "guest", c["name"] + ".elf")
        with tempfile.NamedTemporaryFile(suffix=".log") as lf:
            cmd = qemu_cmd(c, elf, o.accel, lf.name)
            try:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=o.timeout)
                rc, out = p.returncode, p.stdout.decode(errors="replace")
            except subprocess.TimeoutExpired as e:
                rc, out = None, (e.stdout or b"").decode(errors="replace")
            triple = "Triple fault" in open(lf.name, errors="replace").read()
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
        ok = got == c["exit"] and want_out in out.replace("\r", "")
        st = re.search(r"status=(\S+)", c["args"])
        if ok and got == 5 and st and "test status" in c["stderr"]:
            ok = (rc - 1) // 2 == int(st.group(1), 0)
        fails += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {c['name']:13} {c['args']:50} -> {got} (qemu rc {rc})")
        if o.v or not ok:
            print("     $ " + shlex.join(cmd))
            print("     " + out.replace("\r", "").strip().replace("\n", "\n     "))
    print(f"{fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
