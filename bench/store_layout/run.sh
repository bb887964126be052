#!/usr/bin/env bash
# What each index of the events table costs SQLite itself (docs/BENCHMARKS.md,
# "bench/store_layout"). Fills a store with honeycomb_store_fill (the core's
# writer, synthetic Cowrie-like events), then inserts its rows again into a
# fresh database per layout: the table alone, each index alone, the core's
# six indexes at three batch sizes. Ratios against the table alone.
#
#   bench/store_layout/run.sh                # ~3 min on 2 cores
#
# Knobs (environment):
#   HONEYCOMB_BUILD_DIR   build tree [build]; the tools are built there when missing
#   BENCH_ROWS            rows per layout [1000000]
#   BENCH_BATCH           rows per transaction for the single-index layouts [32768]
#   BENCH_SOURCE          an existing store to take the rows from [unset: fill one]
#   BENCH_ONLY            run only the layouts whose name holds this (and the baseline) [unset: all]
#   BENCH_KEEP            1: keep the temp dir [0]
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh

build_dir="${HONEYCOMB_BUILD_DIR:-build}"
rows="${BENCH_ROWS:-1000000}"
batch="${BENCH_BATCH:-32768}"
for tool in honeycomb_store_layout honeycomb_store_fill; do
  if [ ! -x "$build_dir/bin/$tool" ]; then
    [ -f "$build_dir/build.ninja" ] || die "no build tree at $build_dir (run scripts/build.sh release first)"
    ninja -C "$build_dir" "$tool" >/dev/null || die "building $tool failed"
  fi
done

work="$(mktemp -d /tmp/honeycomb-store-layout.XXXXXX)"
cleanup() { if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

source_db="${BENCH_SOURCE:-}"
if [ -z "$source_db" ]; then
  source_db="$work/source.db"
  echo "filling $source_db with $rows events (honeycomb_store_fill)..."
  "$build_dir/bin/honeycomb_store_fill" --db "$source_db" --events "$rows" | tail -1
fi
[ -f "$source_db" ] || die "no store at $source_db"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$build_dir/bin/honeycomb_store_layout" --source "$source_db" --dir "$work" --rows "$rows" --batch "$batch" \
  ${BENCH_ONLY:+--only "$BENCH_ONLY"}
