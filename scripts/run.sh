#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: installs what is needed, builds,
# and runs the simple_http honeypot on port 8080 with every alert written to
# ./.honeycomb/alerts.json (and to ./.honeycomb/honeycomb.debug.log).
#   scripts/run.sh [port]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
port="${1:-8080}"
home="$PWD/.honeycomb"
hc=(build/bin/honeycomb --home "$home")
if [ "$(id -u)" -eq 0 ]; then hc+=(--iamroot); fi
"${hc[@]}" service install simple_http >/dev/null 2>&1 || true
"${hc[@]}" integration install json_file >/dev/null 2>&1 || true
"${hc[@]}" integration configure json_file filepath="$home/alerts.json"
echo "honeypot: http://localhost:$port/   alerts: $home/alerts.json   (Ctrl-C stops)"
exec "${hc[@]}" service run simple_http port="$port" -i json_file
