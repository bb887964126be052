#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: installs what is needed, builds,
# and runs `honeycomb up` with its home in ./.honeycomb: a core (nodes :9001,
# REST API http://127.0.0.1:9002/, WebSocket :9003, events in SQLite), a node
# (event port 127.0.0.1:9100) registered with it, and the simple_http
# honeypot on port 8080 with its alerts in ./.honeycomb/alerts.json.
#   scripts/run.sh [http-port]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
scripts/build-web.sh
scripts/open-for-pots.sh
port="${1:-8080}"
home="$PWD/.honeycomb"
hc=(build/bin/honeycomb --home "$home")
if [ "$(id -u)" -eq 0 ]; then hc+=(--iamroot); fi
exec "${hc[@]}" up --http-port "$port"
