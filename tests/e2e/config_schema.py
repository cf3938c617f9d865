#!/usr/bin/env python3
"""config_schema.py — the VM configuration schema (src/config/schema.c) against
what documents it, as daemon_api.py checks the route table against the API.

    config_schema.py BULKHEAD BULKHEADD REPO_ROOT

Checks: api/openapi.yaml's Config equals `bulkheadd --config-schema`'s (every
key, type, enum, limit, default and required list; descriptions and examples
aside); the exit codes (names and numbers) in openapi.yaml, docs/api.md,
README.md and docs/bulkhead.1.md equal the exit-code table; the options of
`bulkhead run --help` (generated from the schema) equal README.md's option
table and docs/bulkhead.1.md's OPTIONS. Prints PASS/FAIL per check and
"N passed, N failed".
"""
import json
import os
import re
import subprocess
import sys

import yaml

BH, BHD, ROOT = sys.argv[1:4]
results = {"pass": 0, "fail": 0}


def check(name, cond, why=""):
    if cond:
        results["pass"] += 1
        print("PASS " + name, flush=True)
    else:
        results["fail"] += 1
        print("FAIL %s: %s" % (name, why), flush=True)


def strip(node):
    """The schema without prose: descriptions and examples go."""
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in ("description", "example")}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def diff(a, b, path="Config"):
    """Where two schemas differ, as readable lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append("%s.%s: only in openapi.yaml" % (path, k))
            elif k not in b:
                out.append("%s.%s: only in the schema table" % (path, k))
            else:
                out += diff(a[k], b[k], path + "." + k)
        return out
    if a != b:
        return ["%s: table %r, openapi.yaml %r" % (path, a, b)]
    return []


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


def section(text, start, end):
    """The text from the line matching `start` up to the next matching `end`."""
    m = re.search(start, text, re.M)
    if not m:
        return ""
    rest = text[m.end():]
    e = re.search(end, rest, re.M)
    return rest[:e.start()] if e else rest


def main():
    out = subprocess.run([BHD, "--config-schema"], capture_output=True, text=True, check=True)
    table = json.loads(out.stdout)
    spec = yaml.safe_load(read("api/openapi.yaml"))
    config = strip(spec["components"]["schemas"]["Config"])
    d = diff(table["Config"], config)
    check("api/openapi.yaml Config == schema table (%d keys)" % len(table["Config"]["properties"]),
          not d, "; ".join(d))

    # Exit codes: the table, and every document that lists them.
    codes = {c["code"]: c["name"] for c in table["exit_codes"]}
    check("exit codes are 0..%d in order" % (len(codes) - 1),
          sorted(codes) == list(range(len(codes))), str(codes))
    reason = spec["components"]["schemas"]["VM"]["properties"]["exit"]["properties"]["reason"]
    missing = [n for c, n in codes.items()
               if not re.search(r"\b%s \((exit )?%d\)" % (re.escape(n), c), reason["description"])]
    check("openapi.yaml exit reasons name every exit code", not missing, "missing %s" % missing)
    api = section(read("docs/api.md"), r"^## States and exit reasons", r"^## ")
    missing = [n for c, n in codes.items() if not re.search(r"`%s` \(%d\b" % (re.escape(n), c), api)]
    check("docs/api.md exit reasons name every exit code", not missing, "missing %s" % missing)
    for doc, head in (("README.md", r"^### Exit codes"), ("docs/bulkhead.1.md", r"^## EXIT STATUS")):
        rows = set(int(x) for x in re.findall(r"^\| (\d+) \|", section(read(doc), head, r"^##"), re.M))
        check("%s exit-code table == the table" % doc, rows == set(codes),
              "document %s, table %s" % (sorted(rows), sorted(codes)))

    # Options: --help is generated from the rows; the documents must list the same.
    out = subprocess.run([BH, "run", "--help"], capture_output=True, text=True)
    check("bulkhead run --help exits 0", out.returncode == 0, "exit %d" % out.returncode)
    helped = set()
    for line in out.stdout.splitlines():
        m = re.match(r"^  (-\S.*?)(\s{2,}|$)", line)
        if m:
            helped |= set(re.findall(r"--[a-z][a-z0-9-]*", m.group(1)))
    check("--help lists options (%d)" % len(helped), len(helped) > 10, str(helped))
    readme = section(read("README.md"), r"^\| option \| meaning \|", r"^(?!\|).")
    listed = set()
    for line in readme.splitlines():
        cell = line.split("|")[1] if line.startswith("|") else ""
        listed |= set(re.findall(r"--[a-z][a-z0-9-]*", cell))
    check("README.md option table == bulkhead run --help", listed == helped,
          "only in README: %s; only in --help: %s" % (sorted(listed - helped), sorted(helped - listed)))
    man = section(read("docs/bulkhead.1.md"), r"^## OPTIONS", r"^## ")
    listed = set()
    for line in man.splitlines():
        if line.startswith("`"):
            listed |= set(re.findall(r"--[a-z][a-z0-9-]*", line))
    check("docs/bulkhead.1.md OPTIONS == bulkhead run --help", listed == helped,
          "only in the man page: %s; only in --help: %s"
          % (sorted(listed - helped), sorted(helped - listed)))

    print("%d passed, %d failed" % (results["pass"], results["fail"]))
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
