#!/usr/bin/env bash
# The full benchmark: builds the server and the bench tools in release mode, installs wrk if
# missing, runs every case (about 6 minutes) and prints the table. See bench/README.md.
#   bash bench/run.sh [--markdown FILE] [--keep] [--only apikey,bearer,...] [--duration S]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
. bench/lib.sh
ensure_wrk
ensure_slapd
ensure_python
echo "== building the server (release)"
cargo build -q --release --bin ece-server
echo "== building the bench tools (release)"
build_tools release
echo "== running"
exec python3 bench/harness.py --server "$ROOT/target/release/ece-server" --tools "$TOOLS" "$@"
