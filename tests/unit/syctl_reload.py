#!/usr/bin/env python3
"""syctl plan --reload: both plans from one process, the second after the
reload; a refused reload prints every error and exits 2.

    syctl_reload.py SYCTL CONFIG REQUEST   (SY_PLUGIN_DIR: the built plugins)
"""
import json
import os
import subprocess
import sys
import tempfile

syctl, config, request = sys.argv[1:4]
plugins = os.environ["SY_PLUGIN_DIR"]
failures = 0


def check(what, ok, got):
    global failures
    if not ok:
        failures += 1
        print(f"FAIL: {what}\n  got: {got}")
    else:
        print(f"ok: {what}")


def run(*args):
    p = subprocess.run([syctl, "plan", "-c", config, "-r", request, *args],
                       capture_output=True, text=True, env=dict(os.environ, SY_PLUGIN_PATH=plugins))
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as d:
    good = os.path.join(d, "second.json")
    with open(good, "w") as f:
        json.dump({"topology": {"nodes": [{"id": "x1", "host": "10.5.0.1", "port": 1},
                                          {"id": "x2", "host": "10.5.0.2", "port": 2}]},
                   "selector": {"plugin": "default_policy", "config": {"mode": "round_robin", "seed": 1}}}, f)
    bad = os.path.join(d, "bad.json")
    with open(bad, "w") as f:
        f.write('{"selector": 1, "nonsense": 2}')

    rc, out, err = run("--json")
    plain = [t["node"] for t in json.loads(out)] if rc == 0 else None
    check("plan without --reload: a JSON array", rc == 0 and isinstance(plain, list) and plain, (rc, out, err))

    rc, out, err = run("--json", "--reload", good)
    doc = json.loads(out) if rc == 0 else {}
    check("--json --reload: {before, after}", rc == 0 and sorted(doc) == ["after", "before"], (rc, out, err))
    if doc:
        check("before: the first config's plan", [t["node"] for t in doc["before"]] == plain, doc["before"])
        check("after: the second config's nodes", sorted(t["node"] for t in doc["after"]) == ["x1", "x2"],
              doc["after"])

    rc, out, err = run("--reload", good)
    lines = out.splitlines()
    marks = [i for i, l in enumerate(lines) if l.startswith("# ")]
    check("text: two headed sections", rc == 0 and len(marks) == 2 and "after reload" in lines[marks[1]],
          (rc, out))
    if len(marks) == 2:
        check("text: the second section lists x1 and x2",
              sorted(l.split()[1] for l in lines[marks[1] + 1:]) == ["x1", "x2"], lines[marks[1] + 1:])

    rc, out, err = run("--json", "--reload", bad)
    check("refused reload: exit 2, nothing on stdout", rc == 2 and out == "", (rc, out))
    check("refused reload: every error named", "nonsense: unknown key" in err and "selector:" in err, err)

    p = subprocess.run([syctl, "plan", "-c", config, "-r", "-", "--reload", "-"], capture_output=True,
                       text=True, input="{}")
    check("two stdin readers: usage error", p.returncode == 2 and "stdin" in p.stderr, p.stderr)

sys.exit(1 if failures else 0)
