#!/usr/bin/env bash
# install-deps.sh: idempotently installs the Debian 12 packages convoy needs to build and test.
set -euo pipefail

# Exactly what builds, tests and benchmarks need: libzmq (the fleet's transport, CURVE via
# libsodium), protobuf-c (the wire protocol, compiled at build time), inih (the cluster and
# agent configs), hiredis (Redis invalidation, next); chromium (headless) and prometheus
# (promtool, and a real server scraping /metrics) for the live view's test; HypoPG
# (hypothetical indexes) for convoy explain-review's test.
PACKAGES=(
  build-essential
  cmake
  pkg-config
  libpq-dev
  libpg-query-dev
  libprotobuf-c-dev
  libjansson-dev
  libsodium-dev
  libzmq3-dev
  protobuf-c-compiler
  libinih-dev
  libhiredis-dev
  libmicrohttpd-dev
  curl
  procps
  libcmocka-dev
  postgresql-15
  postgresql-contrib
  postgresql-15-hypopg
  redis-server
  clang-format
  jq
  chromium
  prometheus
)

if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -- bash "$0" "$@"
  fi
  echo "install-deps.sh: must run as root (or with sudo available)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "install-deps.sh: installing: ${missing[*]}"
  # Refresh the package index once per run, only when something must be installed.
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed"
fi

# squawk, the migration linter `convoy lint` is compared with (tests/differential/
# squawk_compare.sh -l, ctest lint_squawk), from the npm registry, pinned so counts reproduce.
SQUAWK_VERSION=2.66.0
# npm comes with the machine's Node.js (Debian's own npm package conflicts with it there).
if ! command -v npm >/dev/null 2>&1; then
  echo "install-deps.sh: no npm (Node.js) on this machine: squawk-cli not installed;" \
    "ctest lint_squawk will skip, or fail with CONVOY_TEST_NO_SKIP set" >&2
elif [[ "$(squawk --version 2>/dev/null || true)" != "squawk $SQUAWK_VERSION" ]]; then
  echo "install-deps.sh: installing squawk-cli@$SQUAWK_VERSION (npm)"
  npm install -g --no-fund --no-audit "squawk-cli@$SQUAWK_VERSION" ||
    echo "install-deps.sh: could not install squawk-cli (is the npm registry reachable?);" \
      "ctest lint_squawk will skip, or fail with CONVOY_TEST_NO_SKIP set" >&2
fi

# The postgresql package creates the `postgres` system user; the test harness runs
# initdb/pg_ctl as that user because postgres refuses to run as root.
if ! id postgres >/dev/null 2>&1; then
  echo "install-deps.sh: system user 'postgres' is missing after installing postgresql-15" >&2
  exit 1
fi

bindir="$(pg_config --bindir)"
for tool in initdb pg_ctl postgres pg_basebackup pg_dump; do
  if [[ ! -x "$bindir/$tool" ]]; then
    echo "install-deps.sh: $bindir/$tool not found (is postgresql-15 installed?)" >&2
    exit 1
  fi
done

# The Debian package may have created (and started) a default cluster on port 5432 and a
# redis-server on 6379. They are left alone: every test server uses its own temporary
# directory and a free port found at run time, so they cannot interfere.
echo "install-deps.sh: done (PostgreSQL server binaries in $bindir)"
