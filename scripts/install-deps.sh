#!/usr/bin/env bash
# Installs every Debian 12 package honeycomb needs to build, run and test.
# Idempotent: packages already present are skipped; safe to re-run.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  # libraries (see docs/DEPENDENCIES.md for why each)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev
  # the core's PostgreSQL store: libpq, PostgreSQL's own C client library
  libpq-dev
  # the node's event port: JSON validation at a million lines a second
  # the ssh honeypot's SSH server (linked statically; zlib with it)
  libssh-dev zlib1g-dev
  # runtime helpers and real peers used by tests and benchmarks
  python3 python3-pytest curl openssl zip unzip procps iproute2
  # Python plugins: pip for their requirements.txt; PyYAML is what the e2e
  # tests use as "a requirement the system already provides"
  python3-pip python3-yaml
  # WebSocket client for the core's stream tests
  python3-websocket
  # the PHP forwarder for honeypot authors (clients/php), tested for real
  php-cli
  rsyslog rsyslog-gnutls wrk nginx-light
  # a real PostgreSQL server (and psql, pg_isready) for the PostgreSQL store's
  # tests: scripts/pg-test-server.sh runs private ones from
  # /usr/lib/postgresql/<version>/bin. Debian's own "main" cluster, which the
  # package creates, is neither started here nor used.
  postgresql
  # the attackers' own tools against the built-in honeypots
  nmap hydra lftp openssh-client sshpass
  # the web dashboard's browser tests (driven by playwright-core from npm)
  chromium fonts-dejavu-core
)
# The dashboard is built with npm (scripts/build-web.sh); Debian's Node.js
# when the machine has none of its own.
if ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "[install-deps] all ${#packages[@]} packages already installed"
  exit 0
fi

echo "[install-deps] installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Debian's nginx/rsyslog/postgresql packages try to start their daemons;
# tests start their own instances on free ports, so keep the packaged ones
# from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "[install-deps] done"
