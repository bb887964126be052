#!/usr/bin/env bash
# Idle resident memory of honeycomb's long-running processes, next to what
# the C++ runtime alone costs on this machine (docs/BENCHMARKS.md, "Idle
# memory"). Prints VmRSS / RssAnon / RssFile of:
#   - three one-thread C++ programs (g++ -O2): libstdc++ shared, libstdc++
#     static, static-pie — the floor for any C++ process here;
#   - `honeycomb node --core none` (no pots), a node registered with a core
#     over TLS (and that core; the node again after two heartbeats),
#     `honeycomb service run simple_http ... -i json_file` (again after one request),
#     each 5 s after start.
#   bench/idle_memory/run.sh
# Environment: HONEYCOMB_BUILD_DIR (build), BENCH_SETTLE_SECONDS (5).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
bin="${HONEYCOMB_BUILD_DIR:-build}/bin/honeycomb"
[ -x "$bin" ] || die "no $bin: run scripts/build.sh release first"
settle="${BENCH_SETTLE_SECONDS:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root=(); [ "$(id -u)" = 0 ] && root=(--iamroot)

rss() {  # rss LABEL PID
  local line
  line=$(grep -E '^(VmRSS|RssAnon|RssFile):' "/proc/$2/status" | awk '{printf "%s %.1f MB  ", $1, $2/1024}')
  printf '  %-44s %s\n' "$1" "$line"
}

cat > "$work/floor.cpp" <<'CPP'
#include <iostream>
#include <thread>
#include <unistd.h>
int main() {
  std::thread([] { std::cout << "ready" << std::endl; }).join();
  pause();
}
CPP
echo "idle_memory: VmRSS after ${settle}s"
for variant in "libstdc++ shared:" "libstdc++ static:-static-libstdc++ -static-libgcc" "static-pie:-static-pie"; do
  label="${variant%%:*}" flags="${variant#*:}"
  # shellcheck disable=SC2086
  g++ -O2 -std=c++20 $flags -o "$work/floor" "$work/floor.cpp" -pthread 2>/dev/null || die "g++ $flags failed"
  "$work/floor" > "$work/floor.out" &
  pid=$!
  sleep "$settle"  # idle is what a process settles at: nothing to wait for but time
  rss "C++ floor, $label" "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

port=$(free_port)
"$bin" --home "$work/node" "${root[@]}" node --core none --event-listen "127.0.0.1:$port" > "$work/node.log" 2>&1 &
pid=$!
wait_listening "$port" "$pid" "the node" "$work/node.log"
sleep "$settle"
rss "honeycomb node (no core, no pots)" "$pid"
stop_process "$pid"

home=(--home "$work/svc" "${root[@]}")
"$bin" "${home[@]}" service install simple_http > /dev/null
"$bin" "${home[@]}" integration install json_file > /dev/null
"$bin" "${home[@]}" integration configure json_file filepath="$work/alerts.json" > /dev/null
port=$(free_port)
"$bin" "${home[@]}" service run simple_http port="$port" -i json_file > "$work/svc.log" 2>&1 &
pid=$!
wait_listening "$port" "$pid" "simple_http" "$work/svc.log"
sleep "$settle"
rss "honeycomb service run simple_http -i json_file" "$pid"
# One attacker request and its alert bring their code back in (the start-up
# code was released 3 s after ready: src/common/resident_code.hpp).
curl -s -o /dev/null "http://127.0.0.1:$port/admin" || die "simple_http did not answer"
sleep 1  # the alert is written by the pipeline thread: nothing to wait for but time
rss "  the same service after one request" "$pid"
stop_process "$pid"

# A node registered with a core over TLS (a join token, the default
# node_auth), with its link idle: what a sensor's node costs at rest.
core_home=(--home "$work/core" "${root[@]}")
printf 'database: %s\n' "$work/core/events.db" > "$work/core.yml"
mkdir -p "$work/core"
node_port=$(free_port) api_port=$(free_port)
"$bin" "${core_home[@]}" core --config "$work/core.yml" --node-listen "127.0.0.1:$node_port" \
  --api-listen "127.0.0.1:$api_port" --ws-listen "127.0.0.1:$(free_port)" > "$work/core.log" 2>&1 &
core_pid=$!
wait_listening "$node_port" "$core_pid" "the core" "$work/core.log"
join=$("$bin" "${core_home[@]}" core --config "$work/core.yml" token create --node idle-bench 2>&1 | grep -o 'hcj1\.[^[:space:]]*' | head -1)
[ -n "$join" ] || die "no join token from the core ($work/core.log)"
port=$(free_port)
# Status every 5 s instead of 30 (the same code, sooner): the figure is taken
# after two heartbeats, so it holds what a heartbeat brings back in.
printf 'heartbeat_seconds: 5\n' > "$work/node2.yml"
"$bin" --home "$work/node2" "${root[@]}" node --config "$work/node2.yml" --core "127.0.0.1:$node_port" \
  --join "$join" --name idle-bench --event-listen "127.0.0.1:$port" > "$work/node2.log" 2>&1 &
pid=$!
wait_listening "$port" "$pid" "the node" "$work/node2.log"
for _ in $(seq 300); do  # registration: the node says so in stats.json
  grep -q '"connected": *true' "$work/node2/node/stats.json" 2>/dev/null && break
  sleep 0.1
done
grep -q '"connected": *true' "$work/node2/node/stats.json" 2>/dev/null || die "the node did not register ($work/node2.log)"
sleep "$settle"
rss "honeycomb node (registered with a core, TLS)" "$pid"
# The node releases its start-up code 3 s after registering
# (src/common/resident_code.hpp); idle then runs only the laid-out hot text.
sleep 11  # two heartbeats after the release: nothing to wait for but time
rss "  the same node after two more heartbeats" "$pid"
rss "honeycomb core (one node, empty store)" "$core_pid"
stop_process "$pid"
stop_process "$core_pid"
