"""e2e_report.py — PASS/FAIL bookkeeping shared by the daemon's e2e scripts
(daemon_api.py, daemon_hostile.py): one line per case, "PASS NAME" or
"FAIL NAME: WHY", flushed at once (a hung later case must not hide earlier
results), and the counts in `results` for the script's summary line and exit
status. Imported from the scripts' own directory (sys.path[0])."""

results = {"pass": 0, "fail": 0}


def ok(name):
    results["pass"] += 1
    print("PASS " + name, flush=True)


def bad(name, why):
    results["fail"] += 1
    print("FAIL %s: %s" % (name, why), flush=True)


def check(name, cond, why=""):
    if cond:
        ok(name)
    else:
        bad(name, why)
