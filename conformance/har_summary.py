"""Counts the requests of a conformance run from schemathesis' HAR reports, per operation and
status: `python3 har_summary.py SPEC BASE_PATH FILE.har...`.

Every HTTP request schemathesis sent is one HAR entry. Requests are matched to the spec's
operations by method and path template, static segments first (as the server routes them), so
/users/auth/keys/_all is not counted as /users/auth/keys/{api_key_id}. Requests with a method the
spec does not define for the path (schemathesis' unsupported-method probes) are counted apart.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from urllib.parse import urlsplit


def templates(spec: dict) -> list[tuple[str, re.Pattern[str], set[str]]]:
    out = []
    for path, item in spec["paths"].items():
        methods = {m.upper() for m in item if m != "parameters"}
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        out.append((path, pattern, methods))
    # Fewer parameters first: a static segment wins over a parameter, as in the router.
    out.sort(key=lambda t: (t[0].count("{"), -len(t[0])))
    return out


def main() -> int:
    spec_path, base_path, *hars = sys.argv[1:]
    spec = json.load(open(spec_path))
    table = templates(spec)
    by_op: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    probes = 0
    total = 0
    for har in hars:
        for entry in json.load(open(har))["log"]["entries"]:
            total += 1
            method = entry["request"]["method"].upper()
            path = urlsplit(entry["request"]["url"]).path
            path = path[len(base_path) :] if path.startswith(base_path) else path
            status = entry["response"]["status"]
            for template, pattern, methods in table:
                if pattern.match(path):
                    if method in methods:
                        by_op[f"{method} {template}"][status] += 1
                    else:
                        probes += 1
                    break
            else:
                by_op[f"{method} (no operation: {path[:40]})"][status] += 1
    width = max(map(len, by_op), default=10)
    for op in sorted(by_op, key=lambda o: (o.split(" ", 1)[1], o)):
        counts = by_op[op]
        statuses = "  ".join(f"{s}:{n}" for s, n in sorted(counts.items()))
        print(f"  {op:<{width}}  {sum(counts.values()):>5}  {statuses}")
    print(f"  unsupported-method probes (405 expected): {probes}")
    twoxx = sum(n for c in by_op.values() for s, n in c.items() if 200 <= s < 300)
    print(f"requests: {total} ({twoxx} answered 2xx)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
