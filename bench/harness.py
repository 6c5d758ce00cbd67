#!/usr/bin/env python3
"""The benchmark harness behind bench/run.sh and bench/smoke.sh (see bench/README.md).

Starts the real server (and the baseline) on fresh temporary stores, seeds them, drives load with
wrk over loopback and prints one table. Every throughput figure is also given as a ratio to a
figure measured in the same run (the baseline, or the raw Argon2id rate), because absolute
numbers on a shared 2-core machine are noise.
"""

import argparse
import base64
import datetime
import hashlib
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LUA = os.path.join(HERE, "lua")
ADMIN_PASSWORD = "bench-admin-password"
PASSWORD = "bench-user-password"
KEY_PREFIX = "bench-key-"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_sets():
    """(server cpus, load generator cpus) as taskset lists, or (None, None) on one core."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    half = len(cpus) // 2
    load, server = cpus[:half], cpus[half:]
    return ",".join(map(str, server)), ",".join(map(str, load))


def pinned(cmd, cpus):
    return (["taskset", "-c", cpus] + cmd) if cpus else cmd


# ---------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A server process (ece-server or the baseline) with its memory and CPU readings."""

    def __init__(self, name, cmd, port, cpus, env=None, log_path=None):
        self.name, self.port = name, port
        self.log = open(log_path or os.devnull, "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.started = time.monotonic()
        self.p = subprocess.Popen(
            pinned(cmd, cpus), stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=full_env
        )

    def wait_ready(self, path="/healthz", timeout=60.0):
        """Seconds from spawn until `path` answers 200."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.p.returncode} during start")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", path)
                if c.getresponse().status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.002)
        raise RuntimeError(f"{self.name} did not answer {path} within {timeout}s")

    def status_kb(self, field):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def rss_mb(self):
        return self.status_kb("VmRSS") / 1024

    def hwm_mb(self):
        return self.status_kb("VmHWM") / 1024

    def reset_hwm(self):
        """Resets the peak RSS to the current RSS (Linux >= 4.0); False if not allowed."""
        try:
            with open(f"/proc/{self.p.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def wait_without_threads(self, name, timeout):
        """Waits until no thread of the process is called `name` (at most `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            names = []
            for task in os.listdir(f"/proc/{self.p.pid}/task"):
                try:
                    with open(f"/proc/{self.p.pid}/task/{task}/comm") as f:
                        names.append(f.read().strip())
                except OSError:
                    pass
            if name not in names:
                return True
            time.sleep(0.1)
        log(f"{self.name}: threads named {name} still running after {timeout}s")
        return False

    def cpu_seconds(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


# ---------------------------------------------------------------------------------------------
# HTTP helpers for seeding


class Api:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, auth=None, body=None, expect=(200, 201)):
        headers = {}
        if auth:
            headers["Authorization"] = auth
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, "/api/v1" + path, body=data, headers=headers)
                r = self.conn.getresponse()
                text = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        if r.status not in expect:
            raise RuntimeError(f"{method} {path}: {r.status} {text[:300]!r}")
        return json.loads(text) if text else None

    def login(self, user, password):
        return self.call("POST", "/users/auth/_login", body={"username": user, "password": password})["token"]


def argon2_rate(tool, seconds, cpus, mode=None):
    """Runs argon2-rate; adds the CPU seconds it used (from wait4) and the rate per CPU-second."""
    cmd = pinned([tool, str(seconds)] + ([mode] if mode else []), cpus)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"argon2-rate failed: {p.returncode}")
    r = json.loads(out)
    r["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    r["per_cpu_second"] = r["verifies"] / max(r["cpu_seconds"], 1e-9)
    return r


def us_per_req(r):
    """Server CPU time per request, in microseconds."""
    return r["cpu"] * 1e6 / max(r["rps"], 1e-9)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------------------------------------
# Load generation


class Wrk:
    def __init__(self, load_cpus, run_dir):
        self.cpus, self.run_dir = load_cpus, run_dir

    def cmd(self, url, script, args=(), conns=64, duration=10, headers=(), timeout="10s"):
        c = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", f"--timeout={timeout}", "-s", os.path.join(LUA, script)]
        for h in headers:
            c += ["-H", h]
        c += [url]
        if args:
            c += ["--"] + [str(a) for a in args]
        return pinned(c, self.cpus)

    @staticmethod
    def parse(out, what):
        for line in out.splitlines():
            if line.startswith("BENCH_JSON "):
                return json.loads(line[len("BENCH_JSON "):])
        raise RuntimeError(f"wrk ({what}) printed no result:\n{out[-2000:]}")

    def run(self, url, script, **kw):
        p = subprocess.run(self.cmd(url, script, **kw), capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError(f"wrk failed ({p.returncode}): {p.stderr[-2000:]} {p.stdout[-2000:]}")
        return self.parse(p.stdout, script)

    def start(self, url, script, **kw):
        return subprocess.Popen(self.cmd(url, script, **kw), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True)


# ---------------------------------------------------------------------------------------------
# Direct seeding of SQLite


def seed_keys(db_path, users, keys, phc, first_user=None):
    """Inserts `users` users and `keys` API keys straight into SQLite, in one transaction.

    Key i has the secret KEY_PREFIX + "%07d" % i; keys are inserted in key_hash order with ids and
    owners following that order, so every index gets appended to in order (fast bulk load).
    """
    t0 = time.monotonic()
    db = sqlite3.connect(db_path, timeout=30)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    now = int(time.time() * 1000)
    roles, ra = '["ece_platform_viewer"]', "{}"
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO users (user_name, full_name, email, password_hash, roles, role_assignments, enabled, "
        "builtin, created_at, created_by, updated_at, updated_by, first_login_at, last_login_at, version) "
        "VALUES (?, NULL, NULL, ?, ?, ?, 1, 0, ?, 'bench', ?, 'bench', NULL, NULL, 1)",
        ((f"seed-{u:06d}", phc, roles, ra, now, now) for u in range(users)),
    )
    hashes = sorted(
        (hashlib.sha256(f"{KEY_PREFIX}{i:07d}".encode()).digest(), i) for i in range(keys)
    )
    per_user = max(1, keys // users)
    db.executemany(
        "INSERT INTO api_keys (id, user_name, description, key_hash, created_at, expires_at, role_assignments) "
        "VALUES (?, ?, 'bench', ?, ?, NULL, NULL)",
        ((f"k{rank:07d}", f"seed-{min(rank // per_user, users - 1):06d}", h, now)
         for rank, (h, _) in enumerate(hashes)),
    )
    db.commit()
    db.close()
    log(f"seeded {users} users and {keys} keys in {time.monotonic() - t0:.1f}s")


def seed_user_keys(db_path, user, n):
    """Gives `user` n API keys (random secrets nobody knows; for listing)."""
    db = sqlite3.connect(db_path, timeout=30)
    now = int(time.time() * 1000)
    with db:
        db.executemany(
            "INSERT INTO api_keys (id, user_name, description, key_hash, created_at, expires_at, role_assignments) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL)",
            ((secrets.token_urlsafe(15), user, f"listed key {i}", hashlib.sha256(secrets.token_bytes(32)).digest(),
              now + i, now + 86_400_000) for i in range(n)),
        )
    db.close()


# ---------------------------------------------------------------------------------------------
# The run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="ece-server binary")
    ap.add_argument("--tools", required=True, help="directory with the baseline and argon2-rate binaries")
    ap.add_argument("--duration", type=float, default=10, help="seconds per measured case")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before a case")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--big-users", type=int, default=100_000)
    ap.add_argument("--big-keys", type=int, default=1_000_000)
    ap.add_argument("--small-keys", type=int, default=1_000)
    ap.add_argument("--list-keys", type=int, default=1_000)
    ap.add_argument("--sessions", type=int, default=64, help="refresh chains")
    ap.add_argument("--flood", type=int, default=200, help="concurrent wrong-password logins")
    ap.add_argument("--hangup", type=int, default=1500, help="logins sent and dropped in 2 s")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--markdown", help="also write the results as Markdown to this file")
    ap.add_argument("--only", help="comma-separated case names to run (for iterating)")
    a = ap.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (bench/run.sh installs it)")
    # Real disk, not tmpfs: fsync must cost what it costs in production.
    base = os.path.join(ROOT, "target", "bench-runs")
    os.makedirs(base, exist_ok=True)
    run_dir = tempfile.mkdtemp(prefix="run-", dir=base)
    server_cpus, load_cpus = cpu_sets()
    wrk = Wrk(load_cpus, run_dir)
    dur, warm, conns = a.duration, a.warmup, a.conns
    only = set(a.only.split(",")) if a.only else None
    rows, notes, procs = [], [], []
    log(f"run directory {run_dir}; server on cpus {server_cpus}, load generator on cpus {load_cpus}")

    def want(name):
        return only is None or name in only

    def measure(proc, url, script, name, warmup=True, **kw):
        if warmup and warm > 0:
            wrk.run(url, script, duration=max(1, round(warm)), **kw)
        proc.reset_hwm()
        cpu0, t0 = proc.cpu_seconds(), time.monotonic()
        r = wrk.run(url, script, duration=max(1, round(dur)), **kw)
        r["cpu"] = (proc.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        r["hwm"] = proc.hwm_mb()
        log(f"{name}: {r['rps']:.0f} req/s, p50 {r['p50_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms, "
            f"server CPU {r['cpu'] * 100:.0f}%, peak RSS {r['hwm']:.1f} MB, errors {errors(r)}")
        return r

    def errors(r):
        return sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))

    def server(name, data_dir, extra=(), env=None):
        port = free_port()
        cmd = [a.server, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir] + list(extra)
        e = {"ECE_ADMIN_PASSWORD": ADMIN_PASSWORD, "ECE_READONLY_PASSWORD": ADMIN_PASSWORD}
        e.update(env or {})
        p = Proc(name, cmd, port, server_cpus, env=e, log_path=os.path.join(run_dir, f"{name}.log"))
        procs.append(p)
        p.start_s = p.wait_ready()
        return p

    try:
        tool = lambda n: os.path.join(a.tools, n)  # noqa: E731
        argon_secs = max(1.0, dur / 2)
        argon_all = argon2_rate(tool("argon2-rate"), argon_secs, None)
        log(f"argon2id verify on all {argon_all['threads']} cores: {argon_all['per_second']:.1f}/s "
            f"({argon_all['per_cpu_second']:.1f} per CPU-second)")
        phc = subprocess.check_output([tool("argon2-rate"), "hash", PASSWORD], text=True).strip()

        # -- The main store: the server's own bootstrap, then users through the API.
        main_dir = os.path.join(run_dir, "main")
        # The throughput cases measure the paths, not the hostile-client bounds: the sign-in queue
        # and the per-session refresh rate are lifted here (wrk's 64 connections would otherwise
        # meet them by design); the `hangup` case measures the queue bound on its own.
        # Brute-force protection is off too: it reserves a place per concurrent check of one
        # name, so 16 connections signing in as one user would be answered 429 (by design).
        srv = server("main", main_dir, ["--max-api-keys-per-user", "1000000",
                                        "--hash-queue", "100000",
                                        "--refresh-max-per-minute", "100000000",
                                        "--brute-force-max-failures", "0",
                                        "--brute-force-address-max-failures", "0"])
        base_url = f"http://127.0.0.1:{srv.port}/api/v1"
        api = Api(srv.port)
        admin = "Bearer " + api.login("admin", ADMIN_PASSWORD)
        users = [f"bench-{i:02d}" for i in range(max(2, min(a.sessions, 64)))]
        for u in users + ["bench-keys"]:
            api.call("POST", "/users", admin, {"user_name": u, "security": {"password": PASSWORD, "roles": ["ece_platform_viewer"]}})
        account_body = json.dumps(api.call("GET", "/account", admin), separators=(",", ":"))
        user_tokens = ["Bearer " + api.login(u, PASSWORD) for u in users]
        apikey = api.call("POST", "/users/auth/keys", user_tokens[0], {"description": "bench", "expiration": "1d"})["key"]
        seed_user_keys(os.path.join(main_dir, "ece.db"), "bench-keys", a.list_keys)
        keys_token = "Bearer " + api.login("bench-keys", PASSWORD)
        auth_file = os.path.join(run_dir, "user-tokens.txt")
        with open(auth_file, "w") as f:
            f.write("\n".join(user_tokens) + "\n")
        # Idle: once the hashing threads have exited (crypto::HASHER_IDLE, 2 s after their last job,
        # longer if a wake-up restarted the wait) and freed their memory; a fixed 3 s wait read
        # 19 MB more (one Argon2 buffer) in some runs.
        srv.wait_without_threads("argon2", timeout=15)
        time.sleep(0.5)
        idle_rss = srv.rss_mb()
        log(f"main server started in {srv.start_s * 1000:.0f} ms; idle RSS {idle_rss:.1f} MB")

        # -- Baseline (measured first and last; the ratios use the mean).
        def run_baseline(label):
            port = free_port()
            b = Proc("baseline", [tool("baseline"), f"127.0.0.1:{port}", account_body], port, server_cpus,
                     log_path=os.path.join(run_dir, "baseline.log"))
            procs.append(b)
            b.wait_ready("/api/v1/account")
            r = measure(b, f"http://127.0.0.1:{port}/api/v1/account", "static.lua", label, args=["GET"], conns=conns)
            b.stop()
            return r

        base_first = run_baseline("baseline (first)")
        results = {}
        url_account = base_url + "/account"
        acct = lambda name, auth: measure(srv, url_account, "static.lua", name, args=["GET"], conns=conns,  # noqa: E731
                                          headers=[f"Authorization: {auth}"])
        read_cases = (("apikey", "ApiKey " + apikey), ("bearer", user_tokens[1]),
                      ("basic", basic(users[1], PASSWORD)))
        for key, auth in read_cases:
            if want(key):
                results[key] = acct(f"GET /account {auth.split()[0]}", auth)
        base_mid = run_baseline("baseline (after reads)")

        # -- The read cases again, each side by side with the baseline (see side_by_side).
        def side_by_side(label, auth):
            port = free_port()
            b = Proc("baseline", [tool("baseline"), f"127.0.0.1:{port}", account_body], port, server_cpus,
                     log_path=os.path.join(run_dir, "baseline.log"))
            procs.append(b)
            b.wait_ready("/api/v1/account")
            base_url_b = f"http://127.0.0.1:{port}/api/v1/account"
            pair = ((b, base_url_b, []), (srv, url_account, [f"Authorization: {auth}"]))

            def both(seconds):
                cpu0 = [p.cpu_seconds() for p, _, _ in pair]
                runs = [wrk.start(u, "static.lua", args=["GET"], conns=conns, duration=seconds, headers=h)
                        for _, u, h in pair]
                outs = [Wrk.parse(r.communicate(timeout=seconds + 60)[0], label) for r in runs]
                return outs, [p.cpu_seconds() - c for (p, _, _), c in zip(pair, cpu0)]

            if warm > 0:
                both(max(1, round(warm)))
            seconds = max(1, round(dur))
            (rb, rc), (cb, cc) = both(seconds)
            b.stop()
            base_us, case_us = cb * 1e6 / max(rb["rps"] * seconds, 1), cc * 1e6 / max(rc["rps"] * seconds, 1)
            r = {"base_rps": rb["rps"], "case_rps": rc["rps"], "base_us": base_us, "case_us": case_us,
                 "ratio": base_us / case_us}
            log(f"{label} side by side: baseline {rb['rps']:.0f} req/s at {base_us:.1f} CPU µs/req, case "
                f"{rc['rps']:.0f} req/s at {case_us:.1f} CPU µs/req: cost ratio {r['ratio']:.2f}")
            return r

        for key, auth in read_cases:
            if want(key):
                results[key]["pair"] = side_by_side(f"GET /account {auth.split()[0]}", auth)
        if want("login"):
            body = json.dumps({"username": users[2], "password": PASSWORD})
            # The reference, measured on the server's cores just before and just after.
            argon_before = argon2_rate(tool("argon2-rate"), argon_secs, server_cpus)
            results["login"] = measure(srv, base_url + "/users/auth/_login", "static.lua", "POST _login",
                                       args=["POST", body], conns=16, timeout="30s")
            argon_after = argon2_rate(tool("argon2-rate"), argon_secs, server_cpus)
            argon_alloc = argon2_rate(tool("argon2-rate"), argon_secs, server_cpus, "alloc")
            argon_server = {k: (argon_before[k] + argon_after[k]) / 2 for k in ("per_second", "per_cpu_second")}
            argon_server["threads"] = argon_before["threads"]
            argon_server["alloc_per_cpu_second"] = argon_alloc["per_cpu_second"]
            log(f"argon2id verify on the server's cores: {argon_before['per_second']:.1f}/s before, "
                f"{argon_after['per_second']:.1f}/s after; {argon_server['per_cpu_second']:.1f} per CPU-second "
                f"({argon_alloc['per_cpu_second']:.1f} allocating per verification)")
        if want("refresh"):
            chains = [api.login(users[i % len(users)], PASSWORD) for i in range(a.sessions)]
            chain_file = os.path.join(run_dir, "chains.txt")
            with open(chain_file, "w") as f:
                f.write("\n".join(chains) + "\n")
            # No warm-up run: the chains must start from the tokens just issued.
            results["refresh"] = measure(srv, base_url + "/users/auth/_refresh", "refresh.lua", "POST _refresh",
                                         warmup=False, args=[chain_file, 1], conns=a.sessions)
        if want("keys-create"):
            results["keys-create"] = measure(srv, base_url + "/users/auth/keys", "rotate.lua", "POST /users/auth/keys",
                                             args=["POST", '{"description":"bench","expiration":"1d"}', auth_file],
                                             conns=conns)
        if want("keys-list"):
            results["keys-list"] = measure(srv, base_url + "/users/auth/keys", "static.lua",
                                           f"GET /users/auth/keys ({a.list_keys} keys)", args=["GET"], conns=conns,
                                           headers=[f"Authorization: {keys_token}"], timeout="30s")
        if want("mixed"):
            chains = [api.login(users[i % len(users)], PASSWORD) for i in range(a.sessions)]
            chain_file = os.path.join(run_dir, "chains-mixed.txt")
            with open(chain_file, "w") as f:
                f.write("\n".join(chains) + "\n")
            results["mixed"] = measure(srv, f"http://127.0.0.1:{srv.port}", "mixed.lua", "mixed 1:8:100",
                                       warmup=False, args=[chain_file, 1, apikey, users[3], PASSWORD], conns=conns,
                                       timeout="30s")
        srv.stop()

        # -- Directory users through an LDAP realm (bench/slapd.py), next to the native cases: a
        # sign-in costs a directory bind instead of an Argon2id hash; Basic is served from the
        # verified-credential cache within its fresh window, then asks the directory again. Own
        # server on the main store with brute-force protection off: the sign-ins wrk leaves in
        # flight at the end of a case count as guesses against 127.0.0.1 by design, and the
        # address allowance (30) would then answer 429 to the next case's 16 connections.
        if want("ldap"):
            import slapd
            if not slapd.available():
                sys.exit("slapd is not installed (bench/run.sh installs it)")
            lsrv = server("ldap", main_dir, ["--hash-queue", "100000", "--brute-force-max-failures", "0",
                                              "--brute-force-address-max-failures", "0"])
            lurl = f"http://127.0.0.1:{lsrv.port}/api/v1"
            lapi = Api(lsrv.port)
            ladmin = "Bearer " + lapi.login("admin", ADMIN_PASSWORD)
            dir_users = [f"dir-{i:02d}" for i in range(4)]
            ldap = slapd.Slapd(run_dir, dir_users, PASSWORD, load_cpus)
            procs.append(ldap)
            lapi.call("POST", "/platform/configuration/security/realms/ldap", ladmin, ldap.realm("bench-ldap"))
            lapi.login(dir_users[0], PASSWORD)  # recorded as an external user before the timing
            body = json.dumps({"username": dir_users[0], "password": PASSWORD})
            results["login-ldap"] = measure(lsrv, lurl + "/users/auth/_login", "static.lua",
                                            "POST _login (LDAP realm)", args=["POST", body], conns=16,
                                            timeout="30s")
            results["basic-ldap"] = measure(lsrv, lurl + "/account", "static.lua", "GET /account Basic (LDAP realm)",
                                            args=["GET"], conns=conns,
                                            headers=[f"Authorization: {basic(dir_users[1], PASSWORD)}"])
            ldap.stop()
            lsrv.stop()

        # -- Login flood: the same store, brute-force protection off so every attempt is hashed.
        if want("flood"):
            # The flood's 200 connections and the reads' 64 all come from 127.0.0.1: no
            # per-address connection cap, or it would close some of them.
            fsrv = server("flood", main_dir, ["--brute-force-max-failures", "0", "--brute-force-address-max-failures", "0",
                                              "--max-connections-per-address", "0"])
            furl = f"http://127.0.0.1:{fsrv.port}/api/v1"
            body = json.dumps({"username": users[4], "password": "a-wrong-password"})
            flood = wrk.start(furl + "/users/auth/_login", "static.lua", args=["POST", body], conns=a.flood,
                              duration=max(1, round(warm + dur + 2)), timeout="60s")
            time.sleep(max(1.0, warm))
            r = measure(fsrv, furl + "/account", "static.lua", "GET /account ApiKey during login flood", warmup=False,
                        args=["GET"], conns=conns, headers=[f"Authorization: ApiKey {apikey}"])
            fout, _ = flood.communicate(timeout=dur + warm + 120)
            f = Wrk.parse(fout, "flood")
            r["flood_rps"] = f["rps"]
            log(f"flood: {f['rps']:.1f} wrong-password logins/s answered, p99 {f['p99_us'] / 1000:.0f} ms")
            results["flood"] = r
            fsrv.stop()

        # -- Hang-up flood: logins sent and dropped at once (bench/hangup.py); protection off as
        # above, so that only the hashing queue's bound and the skipping of abandoned jobs act.
        if want("hangup"):
            import hangup
            hsrv = server("hangup", main_dir, ["--brute-force-max-failures", "0",
                                                "--brute-force-address-max-failures", "0"])
            results["hangup"] = hangup.run(hsrv, hsrv.port, users[5], PASSWORD, count=a.hangup,
                                           seconds=2.0, log=log)
            hsrv.stop()

        # -- API keys: 1,000 keys vs 1,000,000 keys and 100,000 users, random keys each request.
        def key_store(name, users_n, keys_n):
            d = os.path.join(run_dir, name)
            subprocess.run([a.server, "migrate", "--data-dir", d], check=True, capture_output=True)
            seed_keys(os.path.join(d, "ece.db"), users_n, keys_n, phc)
            return d

        if want("keys-scale"):
            small = key_store("keys-small", max(1, a.small_keys // 10), a.small_keys)
            big = key_store("keys-big", a.big_users, a.big_keys)
            for label, d, n in (("small", small, a.small_keys), ("big", big, a.big_keys)):
                s = server(f"keys-{label}", d)
                s.stop()
                s = server(f"keys-{label}", d)  # timed restart: the store already bootstrapped
                results[f"keys-{label}-start"] = s.start_s
                results[f"keys-{label}-idle"] = s.rss_mb()
                results[f"keys-{label}"] = measure(s, f"http://127.0.0.1:{s.port}/api/v1/account", "random-key.lua",
                                                   f"GET /account ApiKey, {n} keys", args=[KEY_PREFIX, n], conns=conns)
                s.stop()
                # The same with the credential cache off: every request looks its key up in the
                # store, which is what the number of keys can slow down (with the cache on, the
                # 1,000-key case is served mostly from memory and the 1,000,000-key one is not).
                s = server(f"keys-{label}-nocache", d, extra=["--credential-cache-ms", "0"])
                results[f"keys-{label}-nocache"] = measure(
                    s, f"http://127.0.0.1:{s.port}/api/v1/account", "random-key.lua",
                    f"GET /account ApiKey, {n} keys, cache off", args=[KEY_PREFIX, n], conns=conns)
                s.stop()

        base_last = run_baseline("baseline (last)")
    finally:
        for p in procs:
            try:
                p.stop()
            except Exception:  # noqa: BLE001
                pass

    # -- The table.
    # Throughput ratios are to the baseline measured around the read cases (mean of the runs just
    # before and just after them). On a machine shared with other work the load generator, not the
    # server, may limit the baseline; the CPU time the server spends per request is then the
    # steadier measure, so it is given too ("CPU ratio": baseline CPU per request / case's).
    base_rps = (base_first["rps"] + base_mid["rps"]) / 2
    base_us = (us_per_req(base_first) + us_per_req(base_mid)) / 2
    ms = lambda us: f"{us / 1000:.2f}"  # noqa: E731
    lines = []

    def row(case, r, ratio="", target="", met=""):
        lines.append((case, f"{r['rps']:.0f}", ms(r["p50_us"]), ms(r["p99_us"]), f"{r['cpu'] * 100:.0f}%",
                      f"{us_per_req(r):.0f}", f"{r['hwm']:.1f}", ratio, target, met, str(errors(r))))

    def ok(cond):
        return "yes" if cond else "**no**"

    def vs_base(r):
        return f"{r['rps'] / base_rps:.2f}× (CPU {base_us / us_per_req(r):.2f}×)"

    for label, r in (("baseline (first)", base_first), ("baseline (after reads)", base_mid),
                     ("baseline (last)", base_last)):
        row(label, r, f"{r['rps'] / base_rps:.2f}×")
    peak_read = 0.0
    for key, case, need in (("apikey", "GET /account ApiKey", 0.85), ("bearer", "GET /account Bearer", 0.85),
                            ("basic", "GET /account Basic", 0.80)):
        if key in results:
            r = results[key]
            peak_read = max(peak_read, r["hwm"])
            pair = r["pair"]
            p99_ok = r["p99_us"] <= 5000 or key == "basic"
            row(case, r, vs_base(r), f"≥ {need}×" + ("" if key == "basic" else ", p99 ≤ 5 ms"),
                ok(pair["ratio"] >= need and p99_ok))
            lines.append((f"{case}, side by side with the baseline", f"{pair['case_rps']:.0f}", "", "", "",
                          f"{pair['case_us']:.1f}", "", f"**{pair['ratio']:.2f}×** (baseline {pair['base_rps']:.0f} "
                          f"req/s, {pair['base_us']:.1f} µs)", "", "", ""))
    if "login" in results:
        r = results["login"]
        wall = r["rps"] / argon_server["per_second"]
        per_cpu = (r["rps"] / max(r["cpu"], 1e-9)) / argon_server["per_cpu_second"]
        row("POST _login", r, f"{wall:.2f}× Argon2id (per CPU-second {per_cpu:.2f}×)", "≥ 0.9× raw Argon2id",
            ok(per_cpu >= 0.9))
    if "login-ldap" in results:
        r = results["login-ldap"]
        vs = (f"{r['rps'] / results['login']['rps']:.2f}× native login" if "login" in results else "")
        row("POST _login, LDAP realm user", r, vs)
    if "basic-ldap" in results:
        r = results["basic-ldap"]
        vs = (f"{r['rps'] / results['basic']['rps']:.2f}× native Basic (CPU "
              f"{us_per_req(results['basic']) / us_per_req(r):.2f}×)" if "basic" in results else vs_base(r))
        row("GET /account Basic, LDAP realm user", r, vs)
    if "refresh" in results:
        r = results["refresh"]
        row("POST _refresh", r, vs_base(r), "≥ 4,800/s", ok(r["rps"] >= 4800 and errors(r) == 0))
    if "keys-create" in results:
        row("POST /users/auth/keys", results["keys-create"], vs_base(results["keys-create"]))
    if "keys-list" in results:
        row(f"GET /users/auth/keys ({a.list_keys} keys)", results["keys-list"], vs_base(results["keys-list"]))
    if "mixed" in results:
        row("mixed 1 login : 8 refresh : 100 reads", results["mixed"], vs_base(results["mixed"]))
    if "flood" in results:
        r = results["flood"]
        row(f"GET /account ApiKey during {a.flood} wrong-password logins ({r['flood_rps']:.0f} logins/s)", r,
            vs_base(r), "reads p99 ≤ 10 ms", ok(r["p99_us"] <= 10_000))
    if "keys-small" in results:
        for suffix, note in (("", ""), ("-nocache", ", credential cache off")):
            small, big = results[f"keys-small{suffix}"], results[f"keys-big{suffix}"]
            row(f"GET /account ApiKey, {a.small_keys} keys (random){note}", small, vs_base(small))
            ratio = big["rps"] / small["rps"]
            row(f"GET /account ApiKey, {a.big_keys} keys, {a.big_users} users (random){note}", big,
                f"{ratio:.2f}× {a.small_keys} keys (CPU {us_per_req(small) / us_per_req(big):.2f}×)", "≥ 0.9×",
                ok(ratio >= 0.9))
            peak_read = max(peak_read, small["hwm"], big["hwm"])

    hdr = ("case", "req/s", "p50 ms", "p99 ms", "server CPU", "CPU µs/req", "peak RSS MB", "ratio", "target", "met",
           "errors")
    table = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    table += ["| " + " | ".join(x) + " |" for x in lines]
    extra = [""]
    if "login" in results:
        extra.append(
            f"- Raw Argon2id verify (m=19456, t=2, p=1) on the server's {argon_server['threads']} core(s), around "
            f"the login case: **{argon_server['per_second']:.1f}/s** wall clock, "
            f"**{argon_server['per_cpu_second']:.1f} per CPU-second** (allocating 19 MiB per verification: "
            f"{argon_server['alloc_per_cpu_second']:.1f} per CPU-second). On all {argon_all['threads']} cores: "
            f"{argon_all['per_second']:.1f}/s wall clock, {argon_all['per_cpu_second']:.1f} per CPU-second. "
            f"Login: {results['login']['rps']:.1f}/s, "
            f"{results['login']['rps'] / max(results['login']['cpu'], 1e-9):.1f} per server CPU-second.")
    extra += [
        f"- Idle RSS of the main server (after seeding, before load): **{idle_rss:.1f} MB** (target ≤ 30 MB: "
        f"{ok(idle_rss <= 30)}); peak under read load: **{peak_read:.1f} MB** (target ≤ 100 MB: "
        f"{ok(peak_read <= 100)}).",
        f"- Main server start (fresh store, bootstrap included): {srv.start_s * 1000:.0f} ms.",
    ]
    if "keys-big-start" in results:
        bs = results["keys-big-start"]
        extra.append(f"- Server start with {a.big_keys} keys / {a.big_users} users: **{bs * 1000:.0f} ms** "
                     f"(target ≤ 1 s: {ok(bs <= 1.0)}); with {a.small_keys} keys: "
                     f"{results['keys-small-start'] * 1000:.0f} ms. Idle RSS after start: "
                     f"{results['keys-big-idle']:.1f} MB / {results['keys-small-idle']:.1f} MB.")
    if "hangup" in results:
        h = results["hangup"]
        extra.append(f"- Hang-up flood ({h['count']} wrong-password logins sent and dropped in {h['seconds']:.0f} s, "
                     f"protection off): a real user's sign-in took **{h['p50_s']:.2f} s** (p50), "
                     f"**{h['max_s']:.2f} s** at most (target < 2 s: {ok(h['max_s'] < 2)}), {h['ok']}/{h['logins']} "
                     f"succeeded, {h['refused']} 429s retried; the flood cost {h['cpu_s']:.1f} server CPU-seconds.")
    extra.append(f"- Baseline: {base_rps:.0f} req/s, {base_us:.1f} CPU µs/request (mean of the runs before and "
                 f"after the read cases); the last run, at the end: {base_last['rps']:.0f} req/s.")
    out = "\n".join(table + extra)
    print(out)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(header(a, server_cpus, load_cpus) + "\n" + out + "\n")
    if not a.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        log(f"kept {run_dir}")


def header(a, server_cpus, load_cpus):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], text=True).strip()
        dirty = subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--", "src"]).returncode != 0
        commit += " (+ uncommitted changes in src/)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    load = os.getloadavg()
    return "\n".join([
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} cores (nproc), {model}, {platform.system()} {platform.release()}",
        f"- load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other work on the machine)",
        f"- commit: {commit}",
        f"- server on CPUs {server_cpus}, wrk on CPUs {load_cpus}; {a.duration:.0f} s per case after "
        f"{a.warmup:.0f} s warm-up, {a.conns} connections",
        f"- command: `bash bench/run.sh` ({' '.join(sys.argv[1:])})",
        "",
    ])


if __name__ == "__main__":
    main()
