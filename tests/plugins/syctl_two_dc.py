#!/usr/bin/env python3
"""syctl plan --json on the two-DC demo (examples/demo/two_dc.json) with a key:
local replicas first, with their shards; remote replicas only once
permit_dc_failover is on, and then before any non-replica.

usage: syctl_two_dc.py SYCTL CONFIG"""
import json, os, subprocess, sys, tempfile

syctl, config = sys.argv[1], sys.argv[2]
request = {"key": "user:42", "keyspace": "shop"}


def plan(conf):
    with tempfile.TemporaryDirectory() as d:
        c, r = os.path.join(d, "c.json"), os.path.join(d, "r.json")
        json.dump(conf, open(c, "w"))
        json.dump(request, open(r, "w"))
        out = subprocess.run([syctl, "plan", "-c", c, "-r", r, "--json"], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"syctl failed ({out.returncode}): {out.stderr}")
        return json.loads(out.stdout)


def check(cond, what, targets):
    if not cond:
        sys.exit(f"FAIL: {what}:\n" + "\n".join(f"  {t['node']} {t['datacenter']} replica={t['replica']} shard={t['shard']}" for t in targets))


base = json.load(open(config))
base["plugin_path"] = os.environ["SY_PLUGIN_DIR"].split(":")
rf = base["topology"]["keyspaces"][0]["replication"]

local = plan(base)
check(len(local) == 3 and all(t["datacenter"] == "dc1" for t in local), "without failover only dc1 is planned", local)
reps = [t for t in local if t["replica"]]
check(len(reps) == rf["dc1"] and local[: rf["dc1"]] == reps, "the dc1 replicas come first", local)
check(all(isinstance(t["shard"], int) and 0 <= t["shard"] < 4 for t in reps), "replicas carry their shard", local)
check(all(t["shard"] is None for t in local if not t["replica"]), "non-replicas carry no shard", local)

base["selector"]["config"]["permit_dc_failover"] = True
both = plan(base)
check(len(both) == 6, "with failover every node is planned", both)
n1, n2 = rf["dc1"], rf["dc2"]
check([t["datacenter"] for t in both[:n1]] == ["dc1"] * n1 and all(t["replica"] for t in both[:n1]),
      "dc1 replicas first", both)
check([t["datacenter"] for t in both[n1:n1 + n2]] == ["dc2"] * n2 and all(t["replica"] for t in both[n1:n1 + n2]),
      "then the dc2 replicas", both)
check(not any(t["replica"] for t in both[n1 + n2:]), "then the non-replicas", both)
check({t["node"] for t in both[:n1]} == {t["node"] for t in reps}, "the same local replicas", both)
print("ok: " + " ".join(t["node"] + ("*" if t["replica"] else "") for t in both))
