"""The "hang-up flood" case of bench/harness.py (see bench/README.md).

An attacker sends `count` wrong-password logins (distinct user names) over `seconds`, each on its
own connection, and hangs up right after sending, without reading a reply. Meanwhile and after, a
real user signs in with the right password, one login after another; a 429 is retried after its
`Retry-After`, as a client should. Measured: each real sign-in's latency (from the first try to
the 200, retries included), the 429s it met, and the server CPU time the flood cost (until the
server is idle again).
"""

import http.client
import json
import threading
import time


def _flood(port, count, seconds, stop):
    """Sends `count` logins spread over `seconds`, hanging up on each one at once."""
    import socket

    start = time.monotonic()
    for i in range(count):
        if stop.is_set():
            return
        body = json.dumps({"username": f"flood-{i}", "password": "a-wrong-password"}).encode()
        head = (f"POST /api/v1/users/auth/_login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(head + body)
            s.close()
        except OSError:
            pass
        delay = start + seconds * (i + 1) / count - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def _sign_in(port, user, password):
    """One real sign-in, retried after each 429's Retry-After; (seconds, 429s met, status)."""
    body = json.dumps({"username": user, "password": password})
    t0, refused = time.monotonic(), 0
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request("POST", "/api/v1/users/auth/_login", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
        finally:
            conn.close()
        if r.status == 429 and time.monotonic() - t0 < 60:
            refused += 1
            time.sleep(float(r.getheader("Retry-After") or 1))
            continue
        return time.monotonic() - t0, refused, r.status


def run(proc, port, user, password, count=1500, seconds=2.0, log=print):
    """Runs the case against a running server; returns its figures."""
    stop = threading.Event()
    cpu0 = proc.cpu_seconds()
    flood = threading.Thread(target=_flood, args=(port, count, seconds, stop), daemon=True)
    flood.start()
    samples = []
    end = time.monotonic() + seconds + 2
    while time.monotonic() < end or flood.is_alive():
        samples.append(_sign_in(port, user, password))
        time.sleep(0.2)
    stop.set()
    flood.join()
    # The flood's cost: CPU until the server is idle again (less than 20 ms per 0.5 s).
    last = proc.cpu_seconds()
    for _ in range(240):
        time.sleep(0.5)
        now = proc.cpu_seconds()
        if now - last < 0.02:
            break
        last = now
    cpu = proc.cpu_seconds() - cpu0
    lat = sorted(s[0] for s in samples)
    r = {
        "logins": len(samples),
        "ok": sum(1 for s in samples if s[2] == 200),
        "refused": sum(s[1] for s in samples),
        "p50_s": lat[len(lat) // 2],
        "max_s": lat[-1],
        "cpu_s": cpu,
        "count": count,
        "seconds": seconds,
    }
    log(f"hang-up flood ({count} logins in {seconds:.0f} s): real sign-ins {r['ok']}/{r['logins']} ok, "
        f"p50 {r['p50_s']:.2f} s, max {r['max_s']:.2f} s, {r['refused']} 429s retried; "
        f"server CPU {cpu:.1f} s")
    return r
