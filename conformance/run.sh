#!/usr/bin/env bash
# Schemathesis conformance run: builds ece-server, starts it on a free loopback port over a fresh
# data directory, fuzzes every operation of the official swagger (the repo's spec/) as the platform
# admin and fails on any check failure. See docs/conformance.md.
#
# Environment (all optional):
#   CONFORMANCE_MAX_EXAMPLES  generated cases per operation and phase (default 150)
#   CONFORMANCE_SEED          hypothesis seed (default: random; the seed is printed)
#   CONFORMANCE_VENV          venv to install schemathesis into (default .venv-conformance)
#   CONFORMANCE_REPORT_DIR    where the JUnit and HAR reports and the server log go
#                             (default target/conformance)
#   CONFORMANCE_CHECKS        override the checks (e.g. `all`, to explore; see docs/conformance.md)
#   CONFORMANCE_SKIP_BUILD=1  use the existing target/release/ece-server
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SPEC="$ROOT/spec/ece-identity-swagger.json"
# The security-realm operations: list, reorder, and the LDAP, Active Directory and SAML realm
# configurations (all 14 of that file; the SAML sign-in endpoints are the identity file's).
REALMS_SPEC="$ROOT/spec/ece-realms-swagger.json"
VENV="${CONFORMANCE_VENV:-$ROOT/.venv-conformance}"
MAX_EXAMPLES="${CONFORMANCE_MAX_EXAMPLES:-150}"
REPORT_DIR="${CONFORMANCE_REPORT_DIR:-$ROOT/target/conformance}"
BIN="$ROOT/target/release/ece-server"

if [[ ! -f "$SPEC" ]]; then
    echo "conformance: spec not found at $SPEC" >&2
    exit 2
fi

# --- schemathesis, pinned -------------------------------------------------------------------
PINNED="$(sed -n 's/^schemathesis==//p' conformance/requirements.txt)"
INSTALLED="$("$VENV/bin/schemathesis" --version 2>/dev/null | sed -n 's/.*version //p' || true)"
if [[ "$INSTALLED" != "$PINNED" ]]; then
    echo "conformance: installing schemathesis $PINNED into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r conformance/requirements.txt
fi
echo "conformance: $("$VENV/bin/schemathesis" --version)"

# --- server ---------------------------------------------------------------------------------
if [[ "${CONFORMANCE_SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release --bin ece-server
fi

DATA_DIR="$(mktemp -d -t ece-conformance.XXXXXX)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
ADMIN_PASSWORD="conformance-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
BASE_URL="http://127.0.0.1:$PORT/api/v1"
mkdir -p "$REPORT_DIR"
SERVER_LOG="$REPORT_DIR/server.log"

# A refresh grace longer than the run: the one bearer token run.sh hands to the generated
# _refresh calls stays refreshable throughout (see schemathesis.toml). The API key cap is raised
# because every successful generated create-api-key call adds a key to the seeded user.
#
# Brute-force protection is turned off (environment variables, ignored by a server without it):
# schemathesis sends hundreds of wrong passwords from 127.0.0.1 on purpose, after which the
# protection would rightly answer 429 (which the spec documents nowhere) to every password check
# from that address, the admin's Basic authentication included, and the rest of the run would
# test nothing. The protection has its own tests. ECE_DATABASE_URL is dropped so that the server
# always uses the fresh SQLite store in the temporary data directory.
env -u ECE_DATABASE_URL ECE_BRUTE_FORCE_MAX_FAILURES=0 ECE_BRUTE_FORCE_ADDRESS_MAX_FAILURES=0 \
ECE_ADMIN_PASSWORD="$ADMIN_PASSWORD" ECE_LOG="${ECE_LOG:-warn}" \
    "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR" \
    --refresh-grace 86400 --max-api-keys-per-user 1000000 >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$BASE_URL/users/auth/methods" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "conformance: the server exited during start-up:" >&2
        cat "$SERVER_LOG" >&2
        exit 1
    fi
    sleep 0.2
done
curl -fsS -o /dev/null "$BASE_URL/users/auth/methods"
echo "conformance: ece-server (pid $SERVER_PID) ready on $BASE_URL"

# --- seed data (see schemathesis.toml for why each piece exists) -----------------------------
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
api() { # METHOD PATH AUTH [BODY]: prints the reply, fails on a non-2xx status
    curl -fsS -X "$1" "$BASE_URL$2" -H "Authorization: $3" -H 'Content-Type: application/json' \
        ${4:+--data "$4"}
}

KEYS_USER="conformance-keys"
# Fixed (it is in the `passwords` dictionary of schemathesis.toml, so generated logins can succeed);
# harmless: the server listens on loopback only, over a data directory deleted at the end.
KEYS_PASSWORD="correct horse battery staple"
export CONFORMANCE_ADMIN_AUTH="$(basic admin "$ADMIN_PASSWORD")"
export CONFORMANCE_KEYS_AUTH="$(basic "$KEYS_USER" "$KEYS_PASSWORD")"
export CONFORMANCE_KEYS_USER="$KEYS_USER"
export CONFORMANCE_BEARER="$(curl -fsS -X POST "$BASE_URL/users/auth/_login" -H 'Content-Type: application/json' \
    --data "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}" | json_field token)"
api POST /users "$CONFORMANCE_ADMIN_AUTH" \
    "{\"user_name\":\"$KEYS_USER\",\"security\":{\"password\":\"$KEYS_PASSWORD\",\"roles\":[\"ece_platform_admin\"]}}" >/dev/null
export CONFORMANCE_KEY_ID="$(api POST /users/auth/keys "$CONFORMANCE_KEYS_AUTH" \
    '{"description":"conformance seed key","expiration":"1d"}' | json_field id)"
echo "conformance: seeded user $KEYS_USER with API key $CONFORMANCE_KEY_ID, admin bearer session"

# --- the run --------------------------------------------------------------------------------
SEED_ARGS=()
if [[ -n "${CONFORMANCE_SEED:-}" ]]; then
    SEED_ARGS=(--seed "$CONFORMANCE_SEED")
fi

# The checks are listed in schemathesis.toml; CONFORMANCE_CHECKS overrides them all (exploration).
CHECK_ARGS=()
if [[ -n "${CONFORMANCE_CHECKS:-}" ]]; then
    CHECK_ARGS=(--checks "$CONFORMANCE_CHECKS")
fi

schemathesis_run() { # NAME PHASES WORKERS [SPEC [ARGS...]]: one schemathesis run over every operation
    local name=$1 phases=$2 workers=$3 spec=${4:-$SPEC}
    shift $(( $# < 4 ? $# : 4 ))
    "$VENV/bin/schemathesis" --config-file conformance/schemathesis.toml run "$spec" \
        --url "$BASE_URL" \
        --phases "$phases" \
        --max-examples "$MAX_EXAMPLES" \
        --workers "$workers" \
        --report junit,har \
        --report-junit-path "$REPORT_DIR/$name.junit.xml" \
        --report-har-path "$REPORT_DIR/$name.har" \
        --no-color \
        "$@" "${CHECK_ARGS[@]}" "${SEED_ARGS[@]}"
}

START=$(date +%s)
STATUS=0
# Run 1: examples, coverage (boundary and invalid values of every parameter and body) and
# fuzzing (random valid and invalid requests), with the seeded user behind the key operations.
echo "conformance: run 1/3: examples, coverage, fuzzing"
schemathesis_run generated examples,coverage,fuzzing 2 || STATUS=1
# Run 2: stateful sequences that follow the links schemathesis infers (create a user, then read,
# patch and delete it; list keys, then delete them; ...). Those sequences legitimately delete or
# disable whatever user a listing returns, the seeded one included, so this run keeps every
# operation on the built-in admin (which cannot be deleted, disabled or renamed). One worker:
# with two, one sequence could delete the user another has just created under the same name
# (the user-names dictionary makes that likely), and use_after_free/ensure_resource_availability
# would report the interleaving as a server fault.
echo "conformance: run 2/3: stateful"
CONFORMANCE_KEYS_AUTH="$CONFORMANCE_ADMIN_AUTH" schemathesis_run stateful stateful 1 || STATUS=1
# Run 3: the security-realm operations (docs/realms.md), every phase, as the platform admin.
echo "conformance: run 3/3: security realms (LDAP, Active Directory, SAML, list, reorder)"
schemathesis_run realms examples,coverage,fuzzing,stateful 1 "$REALMS_SPEC" || STATUS=1
END=$(date +%s)

echo "conformance: requests per operation and status (from the HAR reports in $REPORT_DIR):"
python3 conformance/har_summary.py "$SPEC" /api/v1 "$REPORT_DIR/generated.har" "$REPORT_DIR/stateful.har" || true
python3 conformance/har_summary.py "$REALMS_SPEC" /api/v1 "$REPORT_DIR/realms.har" || true
echo "conformance: $( [[ $STATUS -eq 0 ]] && echo passed || echo FAILED ) in $((END - START))s"
if [[ $STATUS -ne 0 ]]; then
    echo "conformance: server log tail:" >&2
    tail -n 50 "$SERVER_LOG" >&2 || true
fi
exit $STATUS
