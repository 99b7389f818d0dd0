#!/usr/bin/env python3
"""`syctl connect` end to end (the issue's "done when"): against loopback
servers started here, it fails over from a dead first target to a live
second one and prints both attempts; exit 1 when nothing connects, 2 on a
bad request.

usage: syctl_connect.py SYCTL PLUGIN_DIR"""
import json, os, socket, subprocess, sys, tempfile, threading

syctl, plugins = sys.argv[1], sys.argv[2]
failed = 0

def check(name, cond, detail=""):
    global failed
    if not cond:
        failed += 1
        print(f"FAIL: {name}: {detail}")
    else:
        print(f"ok: {name}")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

live = socket.socket(); live.bind(("127.0.0.1", 0)); live.listen(16)
def serve():
    while True:
        try: c, _ = live.accept()
        except OSError: return
        c.close()
threading.Thread(target=serve, daemon=True).start()
dead = free_port()
tmp = tempfile.mkdtemp()

def run(routes, req, *extra):
    conf = {"plugin_path": [plugins], "selector": {"plugin": "static_routes", "config": {"routes": routes}},
            "connect": {"timeout_ms": 1000}}
    c = os.path.join(tmp, "c.json"); open(c, "w").write(json.dumps(conf))
    r = os.path.join(tmp, "r.json"); open(r, "w").write(req if isinstance(req, str) else json.dumps(req))
    return subprocess.run([syctl, "connect", "-c", c, "-r", r, *extra], capture_output=True, text=True, timeout=60)

routes = [{"pattern": "^db$", "weight": 20, "host": "127.0.0.1", "port": dead},
          {"pattern": "^d.$", "weight": 10, "host": "127.0.0.1", "port": live.getsockname()[1]}]
r = run(routes, {"node": "db"}, "--json")
check("connect --json exits 0", r.returncode == 0, (r.returncode, r.stderr))
out = json.loads(r.stdout) if r.returncode == 0 else {}
att = out.get("attempts", [])
check("two attempts, dead first", len(att) == 2 and att[0]["port"] == dead and att[0]["outcome"] == "refused", att)
check("the second connected", len(att) == 2 and att[1]["outcome"] == "connected" and att[1]["port"] == live.getsockname()[1], att)
check("each attempt has target, outcome, elapsed", all({"node", "host", "port", "outcome", "elapsed_ms"} <= set(a) for a in att), att)
check("connected names the live target", (out.get("connected") or {}).get("port") == live.getsockname()[1], out)
r = run(routes, {"node": "db"})
lines = r.stdout.strip().splitlines()
check("text output: both attempts and the connection", r.returncode == 0 and len(lines) == 3 and "refused" in lines[0] and lines[2].startswith("connected:"), r.stdout)
r = run(routes[:1], {"node": "db"}, "--json")
check("nothing connects: exit 1", r.returncode == 1 and json.loads(r.stdout)["connected"] is None, (r.returncode, r.stdout, r.stderr))
r = run(routes, '{"node": 5}')
check("bad request: exit 2", r.returncode == 2 and "node" in r.stderr, (r.returncode, r.stderr))
live.close()
sys.exit(1 if failed else 0)
