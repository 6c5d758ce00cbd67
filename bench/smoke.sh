#!/usr/bin/env bash
# A seconds-long run of the whole benchmark harness with tiny durations and seeds, on debug
# builds: checks that every case runs, asserts no timing. Run by scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
. bench/lib.sh
ensure_wrk
ensure_slapd
ensure_python
cargo build -q --bin ece-server
build_tools debug
python3 bench/harness.py --server "$ROOT/target/debug/ece-server" --tools "$TOOLS" \
  --duration 1 --warmup 0 --conns 8 --sessions 8 --flood 8 --hangup 50 \
  --big-users 100 --big-keys 2000 --small-keys 100 --list-keys 50 </dev/null
echo "bench smoke: every case ran"
