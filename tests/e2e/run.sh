#!/usr/bin/env bash
# End-to-end browser tests of the web console: installs what is missing (Debian's chromium,
# playwright-core from npm), builds the server, runs the tests with node's test runner.
# Non-interactive; exits non-zero on failure. See docs/console.md.
#
#   tests/e2e/run.sh                       # builds target/release/ece-server, runs all tests
#   ECE_SERVER_BIN=target/debug/ece-server tests/e2e/run.sh   # use an existing binary instead
#   tests/e2e/run.sh session.test.js       # only some test files
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CI="${CI:-true}" DEBIAN_FRONTEND=noninteractive npm_config_yes=true

if [[ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]]; then
  echo "e2e: installing chromium"
  sudo=""; [[ "$(id -u)" != 0 ]] && sudo="sudo -n"
  $sudo apt-get update -qq </dev/null
  $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core </dev/null
fi

if [[ ! -d "$here/node_modules/playwright-core" || "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  echo "e2e: npm ci"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi

# saml.test.js: the test SAML IdP (tests/saml, saml-idp from npm) and xmlsec1, which the server
# checks SAML signatures with.
saml="$root/tests/saml"
if [[ -f "$saml/package-lock.json" && ( ! -d "$saml/node_modules/saml-idp" || "$saml/package-lock.json" -nt "$saml/node_modules/.package-lock.json" ) ]]; then
  echo "e2e: npm ci in tests/saml"
  (cd "$saml" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi
if ! command -v xmlsec1 >/dev/null; then
  echo "e2e: installing xmlsec1"
  sudo=""; [[ "$(id -u)" != 0 ]] && sudo="sudo -n"
  $sudo apt-get update -qq </dev/null
  $sudo apt-get install -y -qq --no-install-recommends xmlsec1 </dev/null
fi

if [[ -z "${ECE_SERVER_BIN:-}" ]]; then
  echo "e2e: cargo build --release --bin ece-server"
  (cd "$root" && cargo build --release --bin ece-server </dev/null)
  # cargo builds into CARGO_TARGET_DIR when set (relative to the root, where cargo ran).
  target="${CARGO_TARGET_DIR:-target}"
  [[ "$target" = /* ]] || target="$root/$target"
  export ECE_SERVER_BIN="$target/release/ece-server"
else
  # Relative paths are taken from the repository root.
  [[ "$ECE_SERVER_BIN" = /* ]] || export ECE_SERVER_BIN="$root/$ECE_SERVER_BIN"
fi

cd "$here"
if [[ $# -gt 0 ]]; then files=("$@"); else files=(*.test.js); fi
exec timeout 900 node --test --test-concurrency=1 "${files[@]}" </dev/null
