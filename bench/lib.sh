# Shared by run.sh and smoke.sh: installs wrk when missing and builds the bench tools.
# shellcheck shell=bash

ensure_wrk() {
  command -v wrk >/dev/null && return 0
  echo "== installing wrk (Debian package)"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq wrk </dev/null >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq </dev/null >/dev/null && $SUDO apt-get install -y -qq wrk </dev/null >/dev/null; }
  command -v wrk >/dev/null || { echo "wrk could not be installed" >&2; return 1; }
}

ensure_slapd() { # the directory cases (bench/slapd.py) start their own slapd
  [ -x /usr/sbin/slapd ] && return 0
  echo "== installing slapd (Debian package)"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends slapd ldap-utils </dev/null >/dev/null
  $SUDO service slapd stop >/dev/null 2>&1 || true
}

ensure_python() {
  command -v python3 >/dev/null || { echo "python3 is required" >&2; return 1; }
}

# build_tools PROFILE: the baseline server and argon2-rate, in a package of their own
# (bench/tools has its own [workspace]; its target directory is separate from the server's).
build_tools() {
  local profile=$1
  local flag=()
  [ "$profile" = release ] && flag=(--release)
  CARGO_TARGET_DIR="$ROOT/target/bench-tools" cargo build -q "${flag[@]}" \
    --manifest-path "$ROOT/bench/tools/Cargo.toml"
  TOOLS="$ROOT/target/bench-tools/$([ "$profile" = release ] && echo release || echo debug)"
}
