#!/usr/bin/env bash
# Regenerates src/small_main/honeycomb-<job>.hot-text.ld: the code an idle
# node or core runs, profiled instruction by instruction with callgrind and
# laid out together by the next link (src/common/resident_code.hpp says why).
#   node: a node registered with a core (status every heartbeat, stats, the
#         event port waiting);
#   core: a core with one registered node (its heartbeats, the registry and
#         revocation ticks, the idle release).
# Run it after changes to what an idle node or core does; a stale list only
# costs memory, never a build.
#   scripts/hot-text.sh node|core [BUILD_DIR]     (default build; needs valgrind)
# Takes ~2 minutes: the profiled process runs under valgrind through two
# of the node's heartbeats.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
job="${1:-}"
case "$job" in node | core) ;; *) die "usage: scripts/hot-text.sh node|core [BUILD_DIR]" ;; esac
build="${2:-build}"
bin="$build/bin/honeycomb"
job_bin="$build/bin/honeycomb-$job"
command -v valgrind >/dev/null || die "valgrind is needed: apt-get install valgrind"
if [ ! -x "$job_bin" ] || [ ! -f "$job_bin.map" ]; then
  die "no $job_bin with its link map: scripts/build.sh release first"
fi
work="$(mktemp -d)"
core_pid="" node_pid=""
cleanup() { stop_process "$node_pid"; stop_process "$core_pid"; rm -rf "$work"; }
trap cleanup EXIT
root=(); [ "$(id -u)" = 0 ] && root=(--iamroot)
# callgrind: every executed instruction (sampling would miss the rare
# ones), raw addresses and mangled names for scripts/hot_text.py; the
# child's profile after `honeycomb <job>` execs honeycomb-<job>.
profiler=(valgrind --tool=callgrind --trace-children=yes --dump-instr=yes --compress-pos=no --compress-strings=no
  --demangle=no --callgrind-out-file="$work/callgrind.%p")
core_wrap=() node_wrap=()
if [ "$job" = core ]; then core_wrap=("${profiler[@]}"); else node_wrap=("${profiler[@]}"); fi
profiled() { if [ "$job" = core ]; then echo "$core_pid"; else echo "$node_pid"; fi; }

mkdir -p "$work/core"
printf 'database: %s\n' "$work/core/events.db" > "$work/core.yml"
node_port=$(free_port)
echo "hot-text: starting the core${core_wrap:+ under callgrind}"
"${core_wrap[@]}" "$bin" --home "$work/core" "${root[@]}" core --config "$work/core.yml" \
  --node-listen "127.0.0.1:$node_port" --api-listen "127.0.0.1:$(free_port)" --ws-listen "127.0.0.1:$(free_port)" \
  > "$work/core.log" 2>&1 &
core_pid=$!
wait_listening "$node_port" "$core_pid" "the core" "$work/core.log" 120
join=$("$bin" --home "$work/core" "${root[@]}" core --config "$work/core.yml" token create --node hot-text 2>&1 |
  grep -o 'hcj1\.[^[:space:]]*' | head -1)
[ -n "$join" ] || die "no join token from the core ($work/core.log)"

echo "hot-text: starting the node${node_wrap:+ under callgrind}"
"${node_wrap[@]}" "$bin" --home "$work/node" "${root[@]}" node --core "127.0.0.1:$node_port" --join "$join" \
  --name hot-text --event-listen "127.0.0.1:$(free_port)" > "$work/node.log" 2>&1 &
node_pid=$!
deadline=$((SECONDS + 180))
until grep -q '"connected": *true' "$work/node/node/stats.json" 2>/dev/null; do
  kill -0 "$node_pid" 2>/dev/null || die "the node exited: $(tail -5 "$work/node.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "the node did not register within 180 s ($work/node.log)"
  sleep 0.5
done
# The registration's own burst (status, pot list, the core's first idle
# release) is not idle: let it pass. Then two heartbeats.
sleep 10
callgrind_control -z "$(profiled)" > /dev/null 2>&1
echo "hot-text: registered; profiling two heartbeats (65 s)"
sleep 65
callgrind_control -d "$(profiled)" > /dev/null 2>&1
profile="$work/callgrind.$(profiled).1"
for _ in $(seq 100); do [ -s "$profile" ] && break; sleep 0.1; done
[ -s "$profile" ] || die "callgrind wrote no profile ($work)"
what="an idle node registered with a core"
[ "$job" = core ] && what="an idle core with one registered node"
python3 scripts/hot_text.py --map "$job_bin.map" --profile "$profile" --binary "$job_bin" \
  --what "$what" --out "src/small_main/honeycomb-$job.hot-text.ld"
