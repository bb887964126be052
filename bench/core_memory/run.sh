#!/usr/bin/env bash
# Benchmark: the core's resident memory idle (fresh database) and with 10,000
# connected, registered, idle nodes. See docs/BENCHMARKS.md.
#
#   bench/core_memory/run.sh
#
# Environment (defaults in brackets):
#   HONEYCOMB_BUILD_DIR   build tree holding bin/honeycomb [build]; the
#                         generator (bin/honeycomb_node_flood) is built there
#                         when missing
#   BENCH_NODES           idle nodes to connect [10000]
#   BENCH_SETTLE          seconds to wait before each reading [3]
#   BENCH_KEEP            1: keep the temp dir [0]
#
# Exit status: 0 when every node registered, 1 otherwise, 2 on a setup failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

build_dir="${HONEYCOMB_BUILD_DIR:-build}"
nodes="${BENCH_NODES:-10000}"
settle="${BENCH_SETTLE:-3}"
idle_target_kib=$((12 * 1024))
nodes_target_kib=$((200 * 1024))

. bench/lib.sh

honeycomb_bin="$repo/$build_dir/bin/honeycomb"
flood_bin="$repo/$build_dir/bin/honeycomb_node_flood"
[ -x "$honeycomb_bin" ] || die "$honeycomb_bin not found; run scripts/build.sh release (or set HONEYCOMB_BUILD_DIR)"
if [ ! -x "$flood_bin" ]; then
  cmake --build "$build_dir" -j2 --target honeycomb_node_flood >&2 || die "cannot build honeycomb_node_flood"
fi
command -v python3 >/dev/null || die "python3 not found"

# 10,000 sockets on each side (the core and the generator), plus files.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
[ "$(ulimit -n)" -gt $((nodes + 100)) ] || die "ulimit -n is $(ulimit -n): too low for $nodes nodes"

work="$(mktemp -d /tmp/honeycomb-bench-memory.XXXXXX)"
core_pid=""
flood_pid=""
cleanup() {
  stop_process "$flood_pid" TERM
  stop_process "$core_pid" INT
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

metric() {
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port/metrics" |
    awk -v k="$1" '$1 == k { print $2 }'
}

node_port="$(free_port)"
api_port="$(free_port)"
ws_port="$(free_port)"
home="$work/home"
# max_nodes is 20,000 by default; the heartbeat (30 s) is left as deployed.
# node_auth open: the simulated nodes speak plain TCP without a certificate.
echo "node_auth: open" >"$work/core.yml"
hc=("$honeycomb_bin" --home "$home")
if [ "$(id -u)" -eq 0 ]; then hc+=(--iamroot); fi
"${hc[@]}" core --config "$work/core.yml" --node-listen "127.0.0.1:$node_port" \
  --api-listen "127.0.0.1:$api_port" --ws-listen "127.0.0.1:$ws_port" >"$work/core.log" 2>&1 &
core_pid=$!
wait_listening "$api_port" "$core_pid" "the core" "$work/core.log"
wait_listening "$node_port" "$core_pid" "the core" "$work/core.log"
token="$(cat "$home/core/api-token")"
sleep "$settle"
idle_rss="$(status_kib "$core_pid" VmRSS)"
idle_anon="$(status_kib "$core_pid" RssAnon)"
idle_file="$(status_kib "$core_pid" RssFile)"
idle_shmem="$(status_kib "$core_pid" RssShmem)"
idle_threads="$(status_kib "$core_pid" Threads)"
# The biggest file-backed mappings (binary, libraries, the database's mmap).
idle_maps="$(awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 } /^Rss:/ { if ($2 > 0) rss[name == "" ? "[anon]" : name] += $2 }
  END { for (n in rss) printf "%d %s\n", rss[n], n }' "/proc/$core_pid/smaps" | sort -rn | head -6 |
  awk '{ printf "      %7.1f MB  %s\n", $1 / 1024, $2 }')"

echo "bench: core idle, then $nodes idle registered nodes; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$SECONDS
"$flood_bin" --port "$node_port" --nodes "$nodes" --events-per-node 0 --hold >"$work/flood.out" 2>"$work/flood.err" &
flood_pid=$!
for _ in $(seq 1200); do
  grep -q '^ready=1' "$work/flood.out" && break
  kill -0 "$flood_pid" 2>/dev/null || die "the generator exited: $(tail -5 "$work/flood.err")"
  sleep 0.1
done
grep -q '^ready=1' "$work/flood.out" || die "the nodes did not all register within 120 s"
connect_s=$((SECONDS - t0))
registered="$(awk -F= '$1 == "registered" { print $2 }' "$work/flood.out")"
sleep "$settle"
connected="$(metric honeycomb_nodes_connected || echo '?')"
nodes_rss="$(status_kib "$core_pid" VmRSS)"
nodes_anon="$(status_kib "$core_pid" RssAnon)"
nodes_file="$(status_kib "$core_pid" RssFile)"
nodes_hwm="$(status_kib "$core_pid" VmHWM)"
nodes_fds="$(ls "/proc/$core_pid/fd" | wc -l)"
per_node="$(awk -v a="$nodes_rss" -v b="$idle_rss" -v n="$registered" 'BEGIN { if (n > 0) printf "%.1f", (a - b) / n; else print "-" }')"

kill -TERM "$flood_pid" 2>/dev/null || true
wait "$flood_pid" 2>/dev/null || true
flood_pid=""
sleep "$settle"
after_rss="$(status_kib "$core_pid" VmRSS)"
# The core gives memory back on its next idle tick (every 5 s).
sleep 6
after_tick_rss="$(status_kib "$core_pid" VmRSS)"

printf '\n%-40s %s MB (anonymous %s + file %s + shmem %s), %s threads\n' "core idle VmRSS (fresh database)" \
  "$(mb "$idle_rss")" "$(mb "$idle_anon")" "$(mb "$idle_file")" "$(mb "${idle_shmem:-0}")" "$idle_threads"
printf '  largest resident mappings at idle:\n%s\n' "$idle_maps"
printf '%-40s %s registered in %s s (core reports %s connected, %s fds)\n' "idle nodes" "$registered" "$connect_s" "$connected" "$nodes_fds"
printf '%-40s %s MB (anonymous %s + file %s), peak %s MB; %s KiB per node\n' "core VmRSS with the nodes connected" \
  "$(mb "$nodes_rss")" "$(mb "$nodes_anon")" "$(mb "$nodes_file")" "$(mb "$nodes_hwm")" "$per_node"
printf '%-40s %s MB; 6 s later (an idle tick) %s MB\n' "core VmRSS after they disconnected" "$(mb "$after_rss")" "$(mb "$after_tick_rss")"
if [ "$idle_rss" -lt "$idle_target_kib" ]; then m=met; else m="not met"; fi
printf '\ntarget idle < 12 MB resident: %s (%s MB)\n' "$m" "$(mb "$idle_rss")"
if [ "$registered" = "$nodes" ] && [ "$nodes_rss" -lt "$nodes_target_kib" ]; then m=met; else m="not met"; fi
printf 'target %s idle nodes < 200 MB resident: %s (%s MB)\n' "$nodes" "$m" "$(mb "$nodes_rss")"
[ "$registered" = "$nodes" ] || exit 1
