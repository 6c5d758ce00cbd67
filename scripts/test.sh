#!/usr/bin/env bash
# Runs every test of the project, the same way locally and in CI:
#   1. unit tests, the store-contract suite (SQLite and PostgreSQL) and the HTTP suite on SQLite;
#   2. the HTTP suite again on PostgreSQL;
#   3. further stages (conformance, browser, bench smoke) when present.
# PostgreSQL: ECE_TEST_DATABASE_URL (default: the machine's server at 127.0.0.1:5432, database test).
# If it cannot be reached, the PostgreSQL tests are skipped and say so loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

export ECE_TEST_DATABASE_URL="${ECE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -d "$ECE_TEST_DATABASE_URL"; }
if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL is not answering; trying to start the machine's cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  sleep 2
fi
if ! pg_up; then
  echo "!!! PostgreSQL at $ECE_TEST_DATABASE_URL is unreachable: PostgreSQL tests will be SKIPPED !!!"
  unset ECE_TEST_DATABASE_URL
fi

# The directory tests (tests/directory/) start OpenLDAP's slapd themselves: install it if missing,
# like tests/e2e/run.sh installs Chromium. Only the binaries are used; the package's own service
# is stopped if it started (the tests run their own slapd on free loopback ports).
if [ ! -x /usr/sbin/slapd ]; then
  echo "installing slapd and ldap-utils for the directory tests"
  sudo=""; [ "$(id -u)" != 0 ] && sudo="sudo -n"
  $sudo apt-get update -qq </dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd ldap-utils </dev/null
  $sudo service slapd stop >/dev/null 2>&1 || true
fi

# The SAML tests (tests/api/saml_*.rs) check signatures through the server, which runs xmlsec1, and
# sign in at a real identity provider, saml-idp, run by tests/saml/idp.js on Node: install both
# when missing (npm ci again when package-lock.json is newer than the installed tree).
if ! command -v xmlsec1 >/dev/null; then
  echo "installing xmlsec1 for the SAML tests"
  sudo=""; [ "$(id -u)" != 0 ] && sudo="sudo -n"
  $sudo apt-get update -qq </dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends xmlsec1 </dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing Node.js and npm for the SAML tests' identity provider"
  sudo=""; [ "$(id -u)" != 0 ] && sudo="sudo -n"
  $sudo apt-get update -qq </dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm </dev/null
fi
saml_lock=tests/saml/package-lock.json saml_installed=tests/saml/node_modules/.package-lock.json
if [ ! -f "$saml_installed" ] || [ "$saml_lock" -nt "$saml_installed" ]; then
  echo "installing the SAML test identity provider (npm ci in tests/saml)"
  (cd tests/saml && npm ci --ignore-scripts --no-audit --no-fund)
fi

echo "== unit, store contract and HTTP suites (SQLite)"
cargo test --all-targets

if [ -n "${ECE_TEST_DATABASE_URL:-}" ]; then
  echo "== HTTP suite on PostgreSQL"
  ECE_TEST_BACKEND=postgres cargo test --test api
fi

for stage in conformance/run.sh tests/e2e/run.sh bench/smoke.sh; do
  if [ -f "$stage" ]; then
    echo "== $stage"
    bash "$stage"
  fi
done
echo "== all tests passed"
