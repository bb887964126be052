#!/usr/bin/env bash
# Benchmark: events per second into the node's durable spool (one persistent
# connection, 100 connections, one connection per event), end to end into
# the core's store, and the node's resident memory idle and under load.
# Each rate is also given as a ratio against a baseline measured in the same
# run: the same bytes copied from a socket to a file by a plain reader.
# See docs/BENCHMARKS.md.
#
#   bench/node_ingest/run.sh
#
# Environment (defaults in brackets):
#   HONEYCOMB_BUILD_DIR  build tree holding bin/honeycomb [build]
#   BENCH_EVENTS         events for the persistent-connection runs [2000000]
#   BENCH_PER_EVENT      events sent one connection each, to each receiver [60000]
#   BENCH_PER_EVENT_CLIENTS  client processes sending them, each one connection
#                        at a time [2]
#   BENCH_PER_EVENT_ROUNDS   rounds they are sent in, alternating between the
#                        baseline receiver and the node; the median is shown [3]
#   BENCH_PER_EVENT_ADDRESSES  loopback destinations 127.0.0.1..N the clients
#                        cycle over (over 1: the receivers listen on 0.0.0.0
#                        for the rounds) [8]
#   BENCH_PER_EVENT_NICE  niceness of those clients, so the receiver they
#                        load is not starved on a small machine, as the node
#                        runs its pots (pot_nice); 0: none [5]
#   BENCH_E2E_EVENTS     events sent end to end into the core [300000]
#   BENCH_KEEP           1: keep the temp dir (logs, spools, database) [0]
#
# Exit status: 0 when every event was accepted (and stored exactly once end
# to end), 1 otherwise, 2 on a setup failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
. bench/lib.sh

build_dir="${HONEYCOMB_BUILD_DIR:-build}"
honeycomb_bin="$repo/$build_dir/bin/honeycomb"
per_event_bin="$repo/$build_dir/bin/honeycomb_bench_per_event"
[ -x "$honeycomb_bin" ] || die "$honeycomb_bin not found; run scripts/build.sh release (or set HONEYCOMB_BUILD_DIR)"
if [ ! -x "$per_event_bin" ]; then
  cmake --build "$build_dir" -j2 --target honeycomb_bench_per_event >&2 || die "cannot build honeycomb_bench_per_event"
fi
command -v python3 >/dev/null || die "python3 not found"

work="$(mktemp -d /tmp/honeycomb-bench-node.XXXXXX)"
cleanup() {
  pkill -INT -f "$work" 2>/dev/null || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Not exec: the EXIT trap above removes the temp dir (spools, a store).
python3 "$repo/bench/node_ingest/drive.py" --bin "$honeycomb_bin" --per-event-bin "$per_event_bin" \
  --work "$work" --events "${BENCH_EVENTS:-2000000}" --per-event "${BENCH_PER_EVENT:-60000}" \
  --per-event-clients "${BENCH_PER_EVENT_CLIENTS:-2}" --per-event-rounds "${BENCH_PER_EVENT_ROUNDS:-3}" \
  --per-event-addresses "${BENCH_PER_EVENT_ADDRESSES:-8}" --per-event-nice "${BENCH_PER_EVENT_NICE:-5}" \
  --e2e-events "${BENCH_E2E_EVENTS:-300000}"
