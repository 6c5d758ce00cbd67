#!/usr/bin/env python3
"""Instructions per request, counted by valgrind's callgrind: a repeatable figure on a busy machine.

    python3 bench/callgrind.py --server target/release/ece-server --baseline target/bench-tools/release/baseline \
        [--case apikey,bearer,basic,baseline,keys,list] [--seconds 20] [--conns 16]

For each case the server is started under `valgrind --tool=callgrind --instr-atstart=no` on a store
seeded beforehand by a native run of the same binary (Argon2 under valgrind would take minutes);
instrumentation is switched on (`callgrind_control -i on`) only while wrk sends `GET /account`
(or the listing), so the figure is (instructions while loaded) / (requests wrk completed).
Start-up, seeding and shutdown are not counted. Wall-clock figures under valgrind mean nothing;
only the instruction counts are reported. Needs valgrind and wrk (apt-get install valgrind wrk).
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

LUA = os.path.join(harness.HERE, "lua")


def wrk(url, auth, seconds, conns, script="static.lua", args=()):
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout=30", "-s", os.path.join(LUA, script)]
    if auth:
        cmd += ["-H", f"Authorization: {auth}"]
    cmd += [url, "--"] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"wrk saw errors: {out}")
    return int(m.group(1))


def total_ir(outfile):
    """Sum of the `totals:` lines over the dump files of one run (every thread's instructions)."""
    total = 0
    for f in glob.glob(outfile + "*"):
        with open(f) as fh:
            for line in fh:
                if line.startswith("totals:"):
                    total += int(line.split()[1])
    return total


def measure(name, cmd, port, url, auth, seconds, conns, env, script="static.lua", args=()):
    work = tempfile.mkdtemp(prefix=f"cg-{name}-")
    out = os.path.join(work, "callgrind.out")
    vg = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p"] + cmd
    log = open(os.path.join(work, "server.log"), "ab")
    p = subprocess.Popen(vg, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    try:
        ready = harness.Proc.__new__(harness.Proc)
        ready.started, ready.port, ready.p, ready.name = time.monotonic(), port, p, name
        # The baseline serves only the account path.
        ready.wait_ready("/healthz" if name != "baseline" else "/api/v1/account", timeout=300)
        # One request first (a Basic credential costs an Argon2 verification under valgrind,
        # which takes a while), then a warm-up (caches filled, buffers grown), then measure.
        if auth:
            import http.client
            from urllib.parse import urlsplit
            u = urlsplit(url)
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
            c.request("GET", u.path, headers={"Authorization": auth})
            c.getresponse().read()
            c.close()
        wrk(url, auth, 3, conns, script, args)
        subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True, capture_output=True)
        n = wrk(url, auth, seconds, conns, script, args)
        subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True, capture_output=True)
    finally:
        p.terminate()
        p.wait(timeout=120)
    ir = total_ir(out)
    print(f"{name}: {n} requests, {ir} instructions, {ir / max(n, 1):.0f} per request  ({out}.*)", flush=True)
    return ir / max(n, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--baseline")
    ap.add_argument("--case", default="baseline,apikey,bearer,basic")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--keys", type=int, default=100_000, help="keys in the store of the `keys` case")
    ap.add_argument("--hex", action="store_true",
                    help="store seeded digests as hex text (for a server from before migration 0005)")
    a = ap.parse_args()
    cases = a.case.split(",")
    run_dir = tempfile.mkdtemp(prefix="cg-store-")
    data = os.path.join(run_dir, "main")
    env = dict(os.environ, ECE_ADMIN_PASSWORD=harness.ADMIN_PASSWORD, ECE_READONLY_PASSWORD=harness.ADMIN_PASSWORD)

    # Seed natively: users, a token, a key, a user with 1,000 keys.
    port = harness.free_port()
    extra = ["--max-api-keys-per-user", "1000000"]
    seed = harness.Proc("seed", [a.server, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data] + extra,
                        port, None, env)
    seed.wait_ready("/healthz")
    api = harness.Api(port)
    admin = "Bearer " + api.login("admin", harness.ADMIN_PASSWORD)
    api.call("POST", "/users", admin, {"user_name": "cg", "security": {"password": harness.PASSWORD, "roles": ["ece_platform_viewer"]}})
    api.call("POST", "/users", admin, {"user_name": "cg-keys", "security": {"password": harness.PASSWORD, "roles": ["ece_platform_viewer"]}})
    token = "Bearer " + api.login("cg", harness.PASSWORD)
    keys_token = "Bearer " + api.login("cg-keys", harness.PASSWORD)
    apikey = "ApiKey " + api.call("POST", "/users/auth/keys", token, {"description": "cg", "expiration": "1d"})["key"]
    account_body = api.call("GET", "/account", admin)
    seed.p.terminate()
    seed.p.wait()
    db = os.path.join(data, "ece.db")
    harness.seed_user_keys(db, "cg-keys", 1000)
    if "keys" in cases:
        # Nobody signs in as these users: any password hash will do.
        harness.seed_keys(db, 1000, a.keys, "$argon2id$unused")
    if a.hex:
        import sqlite3
        with sqlite3.connect(db) as c:
            c.execute("UPDATE api_keys SET key_hash = lower(hex(key_hash)) WHERE typeof(key_hash) = 'blob'")

    def server_cmd(port):
        return [a.server, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data] + extra

    results = {}
    for case in cases:
        port = harness.free_port()
        url = f"http://127.0.0.1:{port}/api/v1/account"
        if case == "baseline":
            import json
            body = json.dumps(account_body, separators=(",", ":"))
            results[case] = measure(case, [a.baseline, f"127.0.0.1:{port}", body], port, url, None,
                                    a.seconds, a.conns, env)
            continue
        auth = {"apikey": apikey, "bearer": token, "basic": harness.basic("cg", harness.PASSWORD)}.get(case)
        if case == "list":
            url = f"http://127.0.0.1:{port}/api/v1/users/auth/keys"
            auth = keys_token
        if case == "keys":
            results[case] = measure(case, server_cmd(port) + ["--credential-cache-ms", "0"], port, url, None,
                                    a.seconds, a.conns, env, "random-key.lua", [harness.KEY_PREFIX, str(a.keys)])
            continue
        # A listing is ~1,000× a read: few connections, or wrk's timeouts end them unanswered.
        conns = 2 if case == "list" else a.conns
        results[case] = measure(case, server_cmd(port), port, url, auth, a.seconds, conns, env)
    if "baseline" in results:
        for k, v in results.items():
            print(f"{k}: {v:.0f} instructions/request ({results['baseline'] / v:.2f}x baseline)")


if __name__ == "__main__":
    main()
