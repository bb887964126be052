#!/usr/bin/env bash
# Per-line cost of the node's event-line check (Boost.JSON's push parser),
# next to simdjson when libsimdjson-dev is installed; three runs.
#   bench/node_ingest/line_check.sh
set -euo pipefail
cd "$(dirname "$0")"
. ../lib.sh
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
libs=(-lboost_json)
[ -f /usr/include/simdjson.h ] && libs+=(-lsimdjson)
g++ -O2 -std=c++20 line_check.cpp -o "$work/line_check" "${libs[@]}" || die "cannot build line_check.cpp"
for _ in 1 2 3; do "$work/line_check"; done
