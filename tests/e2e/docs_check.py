#!/usr/bin/env python3
"""docs_check.py BULKHEAD BULKHEADD REPO — the documentation matches the program.

1. Every command line in README.md's code blocks (bulkhead run, the daemon
   client commands, bulkheadd) parses: it is run with --help appended, which
   each parser honours only after every option before it was accepted.
2. Every option `bulkhead run --help` lists is in README.md's option table
   and in docs/bulkhead.1.md, and every option those document exists.
3. Every client command of README.md's command table exists, with the options
   it shows; likewise the man page's DAEMON COMMANDS.
4. `bulkhead --version` and `bulkheadd --version` print a version.
5. Every link in README.md and docs/*.md to a file or a heading resolves
   (GitHub's heading anchors), README's table of contents lists every
   ## and ### heading in order, and every repository path README.md names
   in backticks (src/..., tests/..., docs/..., scripts/...) exists, and
   every file the Layout block names exists and every src/ folder is in it.
Prints PASS/FAIL lines and "N passed, N failed". Needs no KVM.
"""
import os
import re
import shlex
import subprocess
import sys

BH, BHD, REPO = sys.argv[1:4]
res = {"pass": 0, "fail": 0}


def check(name, cond, why=""):
    if cond:
        res["pass"] += 1
        print("PASS docs/" + name)
    else:
        res["fail"] += 1
        print("FAIL docs/%s: %s" % (name, why))


def run(args):
    p = subprocess.run(args, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


def opts(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))


readme = open(os.path.join(REPO, "README.md")).read()
man = open(os.path.join(REPO, "docs/bulkhead.1.md")).read()

# 1. README command lines
blocks, cur = [], None
for ln in readme.splitlines():
    if ln.startswith("```"):
        if cur is None:
            cur = [] if ln.strip() in ("```", "```sh") else ["(skip)"]
        else:
            if cur[:1] != ["(skip)"]:
                blocks.append("\n".join(cur))
            cur = None
    elif cur is not None:
        cur.append(ln)
rc, top = run([BH, "--help"])
commands = set(re.findall(r"^  ([a-z]+) ", top, re.M))
lines = []
for b in blocks:
    for ln in b.replace("\\\n", " ").splitlines():
        ln = ln.strip()
        if ln.startswith("$ "):
            ln = ln[2:]
        if ln.startswith("sudo "):
            ln = ln[5:]
        lines.append(ln)
cmds = []
for ln in lines:
    try:
        words = shlex.split(ln, comments=True)
    except ValueError:
        continue
    words = [w for w in words if w != "&"]
    if not words:
        continue
    prog = os.path.basename(words[0])
    if prog == "bulkheadd" or (prog == "bulkhead" and len(words) > 1 and words[1] in commands):
        cmds.append(words)
    else:  # a bulkhead command inside another one (the nested-host example)
        for w in words:
            if re.match(r"^\S*bulkhead run ", w):
                cmds.append(shlex.split(w))
check("README has command lines to check", len(cmds) >= 10, "%d found" % len(cmds))
for words in cmds:
    prog = BHD if os.path.basename(words[0]) == "bulkheadd" else BH
    rc, out = run([prog] + words[1:] + ["--help"])
    check("README command parses: %s" % " ".join(words)[:100], rc == 0 and "usage:" in out,
          "exit %d: %s" % (rc, out.strip().splitlines()[-1] if out.strip() else ""))

# 2. run options: --help, the README table, the man page
rc, help_text = run([BH, "run", "--help"])
help_opts = opts(help_text)
table = "\n".join(l.split("|")[1] for l in readme.splitlines() if l.startswith("| `-"))
readme_opts = opts(table)
man_opts_sec = man.split("## OPTIONS", 1)[1].split("## DAEMON COMMANDS", 1)[0]
man_opts = opts("\n".join(l for l in man_opts_sec.splitlines() if l.startswith("`")))
check("run --help lists options", len(help_opts) >= 20, help_text[:200])
missing = sorted(help_opts - readme_opts)
check("every run option is in README's table", not missing, "missing: %s" % missing)
missing = sorted(help_opts - man_opts - {"--help"})
check("every run option is in docs/bulkhead.1.md", not missing, "missing: %s" % missing)
extra = sorted((readme_opts | man_opts) - help_opts)
check("every documented run option exists", not extra, "not in run --help: %s" % extra)

# 3. client commands
rc, client_help = run([BH, "ps", "--help"])
client_opts = opts(client_help) | {"--help", "--follow"}
rows = [l for l in readme.splitlines() if l.startswith("| `bulkhead ")]
bad = []
for r in rows:
    cell = r.split("|")[1]
    words = re.findall(r"\b(ps|create|start|pause|resume|kill|rm|inspect|stop|logs|quarantine)\b",
                       cell.split("`")[1])
    for w in words:
        if w not in commands:
            bad.append(w)
    for o in opts(cell):
        if o not in client_opts:
            bad.append(o)
check("README's client command table: commands and options exist (%d rows)" % len(rows),
      rows and not bad, "unknown: %s" % bad)
dsec = man.split("## DAEMON COMMANDS", 1)[1].split("## ", 1)[0]
rc, daemon_help = run([BHD, "--help"])
bad = sorted(opts(dsec) - client_opts - opts(daemon_help))
check("man page DAEMON COMMANDS: options exist", not bad, "unknown: %s" % bad)

# 4. versions
rc, out = run([BH, "--version"])
check("bulkhead --version", rc == 0 and re.match(r"bulkhead \d+\.\d+", out) is not None, out)
rc, out = run([BHD, "--version"])
check("bulkheadd --version", rc == 0 and re.match(r"bulkheadd \d+\.\d+", out) is not None, out)

# 5. links, anchors, the table of contents, paths


def headings(text):
    """[(level, title, anchor)] of a Markdown text, outside code fences, with
    GitHub's anchors: lower case, punctuation dropped, blanks as '-', a
    repeated anchor numbered -1, -2, ..."""
    out, seen, fence = [], {}, False
    for ln in text.splitlines():
        if ln.startswith("```"):
            fence = not fence
            continue
        m = None if fence else re.match(r"^(#{1,6}) +(.*?) *$", ln)
        if not m:
            continue
        a = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2).lower())
        a = re.sub(r"[^\w\- ]", "", a).replace(" ", "-")
        n = seen.get(a, 0)
        seen[a] = n + 1
        out.append((len(m.group(1)), m.group(2), a if n == 0 else "%s-%d" % (a, n)))
    return out


def prose(text):
    """text without code blocks and inline code: links in those are examples"""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))


docs = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(REPO, "docs"))
                              if f.endswith(".md"))
bad, nlinks = [], 0
for doc in docs:
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(open(os.path.join(REPO, doc)).read())):
        if re.match(r"^[a-z]+:", target):
            continue
        nlinks += 1
        path, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(os.path.join(REPO, dest)):
            bad.append("%s: %s (no such file)" % (doc, target))
        elif anchor and dest.endswith(".md") and \
                anchor not in [h[2] for h in headings(open(os.path.join(REPO, dest)).read())]:
            bad.append("%s: %s (no such heading in %s)" % (doc, target, dest))
check("links in README.md and docs/*.md resolve (%d links)" % nlinks, nlinks >= 20 and not bad,
      "; ".join(bad) or "only %d links found" % nlinks)

hs = [h for h in headings(readme) if h[0] in (2, 3)]
toc = readme.split("\n## Contents\n", 1)[1].split("\n## ", 1)[0] if "\n## Contents\n" in readme else ""
listed = re.findall(r"^ *- \[.*?\]\(#([^)]+)\)", toc, re.M)
want = [h[2] for h in hs if h[1] != "Contents"]
check("README's table of contents lists every ## and ### heading in order", listed == want,
      ("missing: %s; not a heading: %s" % ([a for a in want if a not in listed],
                                           [a for a in listed if a not in want]) if set(listed) != set(want)
       else "out of order") + " (edit the list under README's '## Contents')")

bad = []
for p in sorted(set(re.findall(r"`[^`\n]*`", readme))):
    for m in re.finditer(r"(?<![\w./-])((?:src|tests|scripts|docs|api|bench|guest|dist|debian)/[\w./-]*\w)", p):
        path = m.group(1)
        if re.search(r"[A-Z]{3,}", path) or p[m.end():m.end() + 1] in ("*", "…"):
            continue  # a placeholder (tests/unit/LAYER) or a pattern (virtio_*.c)
        # a built program is named after its source (tests/e2e/exec_driver)
        if not os.path.exists(os.path.join(REPO, path)) and not os.path.exists(os.path.join(REPO, path + ".c")):
            bad.append(path)
check("every repository path README.md names exists", not bad, "missing: %s" % sorted(set(bad)))

# The Layout block: every file it names is in the folder of its line, and
# every folder of src/ is listed.
lay = readme.split("\n## Layout\n", 1)[1].split("```", 2)[1] if "\n## Layout\n" in readme else ""
bad, folder, folders = [], None, set()
for ln in lay.splitlines():
    m = re.match(r"^(\S+/)\s", ln)
    if m:
        folder = m.group(1)
        folders.add(folder.rstrip("/"))
    for f in re.findall(r"(?<![\w./-])([\w-]+\.(?:c|h|sh|py|md|yaml))\b", ln):
        hits = [d for d, _, fs in os.walk(os.path.join(REPO, folder or ".")) if f in fs]
        if not hits:
            bad.append(folder + f)
src_dirs = {"src/" + d for d in os.listdir(os.path.join(REPO, "src")) if os.path.isdir(os.path.join(REPO, "src", d))}
missing = sorted(d for d in src_dirs if d not in folders and d + "/x86" not in folders)
check("README's Layout: the files it names exist, every src/ folder is listed",
      lay and not bad and not missing, "no such file: %s; folders not listed: %s" % (bad, missing))

print("%d passed, %d failed" % (res["pass"], res["fail"]))
sys.exit(1 if res["fail"] else 0)
