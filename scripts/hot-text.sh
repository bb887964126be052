#!/usr/bin/env bash
# Regenerates src/small_main/honeycomb-node.hot-text.ld: the code an idle node
# registered with a core runs (status every heartbeat, stats, the event port
# waiting), profiled instruction by instruction with callgrind, laid out
# together by the next link (src/common/resident_code.hpp says why). Run it
# after changes to what an idle node does; a stale list only costs memory.
#   scripts/hot-text.sh [BUILD_DIR]     (default: build; needs valgrind)
# Takes ~2 minutes: the node runs under valgrind through two heartbeats.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build="${1:-build}"
bin="$build/bin/honeycomb"
node_bin="$build/bin/honeycomb-node"
command -v valgrind >/dev/null || die "valgrind is needed: apt-get install valgrind"
[ -x "$node_bin" ] && [ -f "$node_bin.map" ] || die "no $node_bin with its link map: scripts/build.sh release first"
work="$(mktemp -d)"
core_pid="" node_pid=""
cleanup() { stop_process "$node_pid"; stop_process "$core_pid"; rm -rf "$work"; }
trap cleanup EXIT
root=(); [ "$(id -u)" = 0 ] && root=(--iamroot)

mkdir -p "$work/core"
printf 'database: %s\n' "$work/core/events.db" > "$work/core.yml"
node_port=$(free_port)
"$bin" --home "$work/core" "${root[@]}" core --config "$work/core.yml" --node-listen "127.0.0.1:$node_port" \
  --api-listen "127.0.0.1:$(free_port)" --ws-listen "127.0.0.1:$(free_port)" > "$work/core.log" 2>&1 &
core_pid=$!
wait_listening "$node_port" "$core_pid" "the core" "$work/core.log"
join=$("$bin" --home "$work/core" "${root[@]}" core --config "$work/core.yml" token create --node hot-text 2>&1 |
  grep -o 'hcj1\.[^[:space:]]*' | head -1)
[ -n "$join" ] || die "no join token from the core ($work/core.log)"

echo "hot-text: starting the node under callgrind"
valgrind --tool=callgrind --trace-children=yes --dump-instr=yes --compress-pos=no --compress-strings=no \
  --demangle=no --callgrind-out-file="$work/callgrind.%p" \
  "$bin" --home "$work/node" "${root[@]}" node --core "127.0.0.1:$node_port" --join "$join" --name hot-text \
  --event-listen "127.0.0.1:$(free_port)" > "$work/node.log" 2>&1 &
node_pid=$!
deadline=$((SECONDS + 120))
until grep -q '"connected": *true' "$work/node/node/stats.json" 2>/dev/null; do
  kill -0 "$node_pid" 2>/dev/null || die "the node exited: $(tail -5 "$work/node.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "the node did not register within 120 s ($work/node.log)"
  sleep 0.5
done
sleep 5  # the registration's own burst (status, pot list) is not idle: let it pass
callgrind_control -z "$node_pid" > /dev/null 2>&1
echo "hot-text: registered; profiling two heartbeats (65 s)"
sleep 65
callgrind_control -d "$node_pid" > /dev/null 2>&1
profile="$work/callgrind.$node_pid.1"
for _ in $(seq 100); do [ -s "$profile" ] && break; sleep 0.1; done
[ -s "$profile" ] || die "callgrind wrote no profile ($work)"
python3 scripts/hot_text.py --map "$node_bin.map" --profile "$profile" --binary "$node_bin" \
  --what "an idle node registered with a core" --out src/small_main/honeycomb-node.hot-text.ld
