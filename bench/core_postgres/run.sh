#!/usr/bin/env bash
# Benchmark: the core on PostgreSQL (issue 9), each figure against a baseline
# measured in the same run. See docs/BENCHMARKS.md.
#
#   1. ingest, one core: PotEvents/s from N simulated nodes into a core on
#      PostgreSQL, against the same load into a core on SQLite (the default
#      store); zero loss checked on both;
#   2. ingest, two cores sharing one PostgreSQL database, the nodes split
#      between them (half connected to each): events/s of each and of both;
#   3. API latency on 10 M events: the requests of bench/core_api and
#      bench/dashboard to a core on a PostgreSQL store, against the same
#      requests to a core on a SQLite store holding the same events.
#
#   bench/core_postgres/run.sh
#   BENCH_QUICK=1 bench/core_postgres/run.sh      # smoke run, 1-2 minutes
#
# PostgreSQL is a private server of scripts/pg-test-server.sh made durable
# (HONEYCOMB_PG_DURABLE=1: fsync, full_page_writes, synchronous_commit on),
# in a folder of /tmp removed at exit. Phase 3's stores are built once and
# cached (like bench/core_api's): the SQLite one is bench/core_api's
# (BENCH_STORE), the PostgreSQL one is a server folder (BENCH_PG_STORE)
# stopped at exit and started again by the next run; both filled by
# honeycomb_store_fill with the same seed, so they hold the same events.
#
# Environment (defaults in brackets):
#   HONEYCOMB_BUILD_DIR   build tree holding bin/honeycomb [build]; the tools
#                         (honeycomb_node_flood, honeycomb_store_fill) are
#                         built there when missing
#   BENCH_QUICK (QUICK)   1: smoke-run sizes (4 nodes x 50,000 events,
#                         200,000-event stores in the temp dir, 20 requests
#                         per kind); the variables below still override [0]
#   BENCH_PHASES          which phases to run, e.g. 12 or 3 [123]
#   BENCH_NODES           simulated nodes (connections) per ingest run [8]
#   BENCH_EVENTS          events per node [250000]
#   BENCH_SEED            generator seed [1]
#   BENCH_IO_THREADS      each core's io_threads [2, the default]
#   BENCH_INGEST_BATCH    each core's ingest_batch [unset: the core's default]
#   BENCH_INGEST_WRITERS  each PostgreSQL core's ingest_writers [unset: the core's default]
#   BENCH_DEADLINE        seconds to wait for every event to be stored [900]
#   BENCH_PG_SETTINGS     server settings for both servers, "name=value ..."
#                         (ALTER SYSTEM, then a restart), e.g.
#                         "shared_buffers=2GB max_wal_size=8GB"
#                         [none: the test server's settings, made durable]
#   BENCH_PG_FLOOR        1: in phases 1 and 2, drop the five filter indexes
#                         once the cores made the schema (the unique and id
#                         indexes stay), to measure the ceiling any layout of
#                         the filters could reach; queries would read whole
#                         days, so it is a measurement, not a configuration [0]
#   BENCH_STORE           phase 3's cached SQLite store [/var/tmp/honeycomb-bench-10m.db]
#   BENCH_PG_STORE        phase 3's cached PostgreSQL server folder, database
#                         `bench` [/var/tmp/honeycomb-bench-pg-10m]
#   BENCH_STORE_EVENTS    events in each store when filled [10000000]
#   BENCH_REQUESTS        sequential requests per kind [100]
#   BENCH_KIND_BUDGET     seconds one kind may take at most (then >= 5 requests) [30]
#   BENCH_LIMIT           page size of the event queries [50]
#   BENCH_KEEP            1: keep the temp dir (logs; the ingest server is stopped) [0]
#
# Exit status: 0 when every event sent was stored exactly once and every API
# request was answered 200, 1 otherwise, 2 on a setup failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
. bench/lib.sh

quick="${BENCH_QUICK:-${QUICK:-0}}"
if [ "$quick" = 1 ]; then q_nodes=4 q_events=50000 q_store=200000 q_requests=20 q_budget=5
else q_nodes=8 q_events=250000 q_store=10000000 q_requests=100 q_budget=30; fi
build_dir="${HONEYCOMB_BUILD_DIR:-build}"
phases="${BENCH_PHASES:-123}"
nodes="${BENCH_NODES:-$q_nodes}"
per_node="${BENCH_EVENTS:-$q_events}"
seed="${BENCH_SEED:-1}"
io_threads="${BENCH_IO_THREADS:-2}"
deadline_s="${BENCH_DEADLINE:-900}"
pg_settings="${BENCH_PG_SETTINGS:-}"
pg_floor="${BENCH_PG_FLOOR:-0}"
store_events="${BENCH_STORE_EVENTS:-$q_store}"
requests="${BENCH_REQUESTS:-$q_requests}"
budget="${BENCH_KIND_BUDGET:-$q_budget}"
limit="${BENCH_LIMIT:-50}"
total=$((nodes * per_node))
target=100000

honeycomb_bin="$repo/$build_dir/bin/honeycomb"
flood_bin="$repo/$build_dir/bin/honeycomb_node_flood"
fill_bin="$repo/$build_dir/bin/honeycomb_store_fill"
pg_server="$repo/scripts/pg-test-server.sh"
[ -x "$honeycomb_bin" ] || die "$honeycomb_bin not found; run scripts/build.sh release (or set HONEYCOMB_BUILD_DIR)"
if [ ! -x "$flood_bin" ]; then
  cmake --build "$build_dir" -j2 --target honeycomb_node_flood >&2 || die "cannot build honeycomb_node_flood"
fi
# An older filler writes SQLite only (its usage names no postgresql://).
if [ ! -x "$fill_bin" ] || [[ "$("$fill_bin" --help 2>&1 || true)" != *postgresql* ]]; then
  cmake --build "$build_dir" -j2 --target honeycomb_store_fill >&2 || die "cannot build honeycomb_store_fill"
fi
for tool in python3 curl psql; do
  command -v "$tool" >/dev/null || die "$tool not found (psql: Debian package postgresql-client)"
done
[ "$nodes" -ge 2 ] || die "BENCH_NODES must be at least 2 (phase 2 splits them between two cores)"

work="$(mktemp -d /tmp/honeycomb-bench-pg.XXXXXX)"
# The server's folder is not in $work (0700): as root the server runs as
# another user, who must reach it.
pg_dir="$work.server"
pg_up=0
store_dir=""  # phase 3's server, while it runs
store_keep=1  # 0: a QUICK run's own, removed at exit
flood_pids=()
core_pids=()
core_pid=""
cleanup() {
  set +e
  local p
  for p in "${flood_pids[@]}"; do stop_process "$p" TERM; done
  for p in "${core_pids[@]}"; do stop_process "$p" INT; done
  stop_core
  if [ "$pg_up" = 1 ]; then "$pg_server" stop "$pg_dir" >/dev/null 2>&1; fi
  if [ -n "$store_dir" ] && [ "$store_keep" = 0 ]; then
    "$pg_server" stop "$store_dir" >/dev/null 2>&1
  elif [ -n "$store_dir" ]; then
    # Kept for the next run: a checkpoint, so that the next start has no WAL to replay.
    psql -X -q -d "$(cat "$store_dir/uri")" -c CHECKPOINT >/dev/null 2>&1
    "$pg_server" kill "$store_dir" >/dev/null 2>&1
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

now_us() { date +%s%6N; }
# utime + stime of a process or thread in clock ticks (after the last ')':
# the command name may hold spaces); with a 2nd argument also the reaped
# children's (cutime + cstime).
cpu_ticks() { sed 's/.*) //' "$1/stat" | awk -v c="${2:-0}" '{ print $12 + $13 + (c ? $14 + $15 : 0) }'; }
hz="$(getconf CLK_TCK)"
secs_of() { awk -v t="$1" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'; }
kv() { awk -F= -v k="$1" '$1 == k { print $2 }' "$2" | tail -1; }
psql_at() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
progress() { echo "bench: $*" >&2; }

# ---- PostgreSQL ------------------------------------------------------------------

# Applies BENCH_PG_SETTINGS to the server of DIR (ALTER SYSTEM; earlier ones
# reset) and restarts it when they changed since the last run on it.
#   apply_settings DIR
apply_settings() {
  local dir="$1" uri kv_pair sql=(-c "ALTER SYSTEM RESET ALL")
  uri="$(cat "$dir/uri")"
  [ "$(cat "$dir/bench-settings" 2>/dev/null || true)" != "$pg_settings" ] || return 0
  for kv_pair in $pg_settings; do
    case "$kv_pair" in *=*) ;; *) die "BENCH_PG_SETTINGS: \"$kv_pair\" is not name=value" ;; esac
    sql+=(-c "ALTER SYSTEM SET ${kv_pair%%=*} = '${kv_pair#*=}'")  # one -c each: not in a transaction
  done
  psql -X -q -v ON_ERROR_STOP=1 -d "$uri" "${sql[@]}" >/dev/null || die "BENCH_PG_SETTINGS: not accepted"
  "$pg_server" restart "$dir" >/dev/null || die "cannot restart the server of $dir"
  echo "$pg_settings" >"$dir/bench-settings"
}

# The settings that matter for a write benchmark, one line.
server_settings() {
  psql_at "$1" "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings
    WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_compression', 'shared_buffers',
                   'max_wal_size', 'checkpoint_timeout', 'wal_level')"
}

# A new database on the server of URI; prints its URI.
create_db() {
  psql_at "$1" "DROP DATABASE IF EXISTS $2" >/dev/null
  psql_at "$1" "CREATE DATABASE $2" >/dev/null
  echo "${1%/postgres}/$2"
}

# The server's CPU: the postmaster, its live children (backends, WAL writer,
# checkpointer...) and the children it reaped (exited backends, autovacuum).
pg_cpu_ticks() {
  local pm sum c
  pm="$(head -1 "$pg_dir/data/postmaster.pid")"
  sum="$(cpu_ticks "/proc/$pm" 1)"
  for c in $(ps -o pid= --ppid "$pm"); do
    [ -r "/proc/$c/stat" ] && sum=$((sum + $(cpu_ticks "/proc/$c" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
# The busiest server process since pg_snapshot: "ticks pid command".
pg_snapshot() {
  local pm c
  pm="$(head -1 "$pg_dir/data/postmaster.pid")"
  for c in $(ps -o pid= --ppid "$pm"); do
    [ -r "/proc/$c/stat" ] && echo "$c $(cpu_ticks "/proc/$c" 2>/dev/null || echo 0)"
  done
}
# WAL written so far (bytes), full-page images, WAL syncs, checkpoints.
wal_stats() {
  psql_at "$1" "SELECT pg_current_wal_lsn() - '0/0', wal_fpi, wal_sync, (SELECT checkpoints_timed + checkpoints_req
    FROM pg_stat_bgwriter) FROM pg_stat_wal" | tr '|' ' '
}

# ---- cores ---------------------------------------------------------------------------

# Starts core number I (0, 1) on DATABASE (an SQLite file or a URI) under
# $work/NAME with an API token of its own; sets c_pid[I], c_api[I],
# c_node[I], c_token[I].
#   start_ingest_core I NAME DATABASE
declare -a c_pid c_api c_node c_token c_log
start_ingest_core() {
  local i="$1" dir="$work/$2" database="$3" hc tok
  mkdir -p "$dir"
  # node_auth open: the generator's nodes register over plain TCP, as the
  # public HoneyBee node does (no TLS handshake, no enrollment).
  printf 'database: %s\nio_threads: %s\napi_rate_per_second: 0\nnode_auth: open\n' "$database" "$io_threads" \
    >"$dir/core.yml"
  if [ -n "${BENCH_INGEST_BATCH:-}" ]; then echo "ingest_batch: $BENCH_INGEST_BATCH" >>"$dir/core.yml"; fi
  if [ -n "${BENCH_INGEST_WRITERS:-}" ]; then echo "ingest_writers: $BENCH_INGEST_WRITERS" >>"$dir/core.yml"; fi
  hc=("$honeycomb_bin" --home "$dir/home")
  if [ "$(id -u)" -eq 0 ]; then hc+=(--iamroot); fi
  tok="$("${hc[@]}" core --config "$dir/core.yml" token create "bench-$i" 2>&1 | tail -1 | tr -d '[:space:]')"
  case "$tok" in hc_*) ;; *) die "cannot create an API token: $tok" ;; esac
  c_token[i]="$tok"
  c_api[i]="$(free_port)"
  c_node[i]="$(free_port)"
  c_log[i]="$dir/core.log"
  "${hc[@]}" core --config "$dir/core.yml" --node-listen "127.0.0.1:${c_node[i]}" \
    --api-listen "127.0.0.1:${c_api[i]}" --ws-listen "127.0.0.1:$(free_port)" >"${c_log[i]}" 2>&1 &
  c_pid[i]=$!
  core_pids+=("${c_pid[i]}")
  wait_listening "${c_api[i]}" "${c_pid[i]}" "the core" "${c_log[i]}" 120
  wait_listening "${c_node[i]}" "${c_pid[i]}" "the core" "${c_log[i]}"
}

# A counter of core I's /metrics (0 when it cannot be read).
metric() {
  { curl -sf -H "Authorization: Bearer ${c_token[$1]}" "http://127.0.0.1:${c_api[$1]}/metrics" || true; } |
    awk -v k="$2" '$1 == k { v = $2 } END { printf "%d\n", v }'
}

# The event_ids a checker recomputes (1,000 random ones of the generator's
# scheme: nodes 1000000000.. in order across the generators).
sample_ids() {
  python3 - "$nodes" "$per_node" "$seed" <<'PY'
import random, sys
nodes, per_node, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
for i in sorted({f"bench-{1000000000 + rng.randrange(nodes)}-{rng.randrange(per_node):012d}" for _ in range(1000)}):
    print(i)
PY
}

# One ingest run: NCORES cores on DATABASE (the nodes split between them),
# all events sent, waited for, checked. Results in $work/TAG.res (key=value).
#   ingest_run TAG NCORES DATABASE KIND(sqlite|pg)
ingest_run() {
  local tag="$1" ncores="$2" database="$3" kind="$4" res="$work/$1.res" i
  local -a share done_us flood_out
  core_pids=()
  flood_pids=()
  for ((i = 0; i < ncores; i++)); do start_ingest_core "$i" "$tag-core$i" "$database"; done
  if [ "$kind" = pg ] && [ "$pg_floor" = 1 ]; then
    psql_at "$database" "DROP INDEX events_pot_key_time, events_type_key_time, events_pot_type_key_time,
      events_node_time, events_src_time" >/dev/null || die "BENCH_PG_FLOOR: cannot drop the filter indexes"
  fi
  local pg_before="" wal_before="" cpu_before=0 t
  for ((i = 0; i < ncores; i++)); do cpu_before=$((cpu_before + $(cpu_ticks "/proc/${c_pid[i]}"))); done
  declare -A thread_before=()
  for ((i = 0; i < ncores; i++)); do
    for t in /proc/"${c_pid[i]}"/task/*; do thread_before[$i.${t##*/}]="$(cpu_ticks "$t")"; done
  done
  declare -A pgproc_before=()
  if [ "$kind" = pg ]; then
    pg_before="$(pg_cpu_ticks)"
    wal_before="$(wal_stats "$database")"
    while read -r p ticks; do pgproc_before[$p]=$ticks; done < <(pg_snapshot)
  fi
  # The generators: one per core, nodes split, node ids consecutive.
  local base=1000000000 n
  for ((i = 0; i < ncores; i++)); do
    n=$((nodes / ncores + (i < nodes % ncores ? 1 : 0)))
    share[i]=$((n * per_node))
    flood_out[i]="$work/$tag-flood$i.out"
    "$flood_bin" --port "${c_node[i]}" --nodes "$n" --events-per-node "$per_node" --seed "$seed" \
      --node-id-base "$base" --hold >"${flood_out[i]}" 2>"$work/$tag-flood$i.err" &
    flood_pids+=($!)
    base=$((base + n))
    done_us[i]=""
  done
  # One keep-alive poller for every core (curl in a loop took CPU from the
  # cores under test); it prints done_us.I as each core reaches its share.
  local waiter_args=() waiter_pid
  for ((i = 0; i < ncores; i++)); do waiter_args+=(--core "${c_api[i]}" "${c_token[i]}" "${share[i]}"); done
  python3 bench/wait_stored.py --deadline "$deadline_s" --watch "${c_pid[@]}" "${waiter_args[@]}" >"$work/$tag-wait.out" &
  waiter_pid=$!
  local pending
  while :; do
    pending=0
    for ((i = 0; i < ncores; i++)); do
      [ -z "${done_us[i]}" ] || continue
      done_us[i]="$(kv "done_us.$i" "$work/$tag-wait.out")"
      [ -n "${done_us[i]}" ] || pending=1
      kill -0 "${c_pid[i]}" 2>/dev/null || die "a core exited: $(tail -5 "${c_log[i]}")"
      kill -0 "${flood_pids[i]}" 2>/dev/null || die "a generator exited: $(cat "$work/$tag-flood$i.err")"
      if grep -q '^ready=1' "${flood_out[i]}" && [ "$(kv errors "${flood_out[i]}")" != 0 ]; then
        die "the generator failed: $(grep -v '^node_flood: [0-9]* envelope' "$work/$tag-flood$i.err" | head -3)"
      fi
    done
    [ "$pending" = 1 ] || break
    if ! kill -0 "$waiter_pid" 2>/dev/null; then
      pending=0  # it may have printed the last line just before exiting
      for ((i = 0; i < ncores; i++)); do
        [ -n "${done_us[i]}" ] || done_us[i]="$(kv "done_us.$i" "$work/$tag-wait.out")"
        [ -n "${done_us[i]}" ] || pending=1
      done
      [ "$pending" = 1 ] || break
      progress "deadline: not every event was stored after ${deadline_s} s ($(grep '^stored' "$work/$tag-wait.out" | tr '\n' ' '))"
      for ((i = 0; i < ncores; i++)); do [ -n "${done_us[i]}" ] || done_us[i]="$(now_us)"; done
      break
    fi
    sleep 0.2
  done
  wait "$waiter_pid" 2>/dev/null || true
  local cpu_after=0 busiest=0 busiest_core="" d
  for ((i = 0; i < ncores; i++)); do
    cpu_after=$((cpu_after + $(cpu_ticks "/proc/${c_pid[i]}")))
    for t in /proc/"${c_pid[i]}"/task/*; do
      d=$(( $(cpu_ticks "$t") - ${thread_before[$i.${t##*/}]:-0} ))
      if [ "$d" -gt "$busiest" ]; then busiest=$d; busiest_core=$i; fi
    done
  done
  local pg_after="" wal_at_done="" pg_busiest=0 pg_busiest_what=""
  if [ "$kind" = pg ]; then
    pg_after="$(pg_cpu_ticks)"
    wal_at_done="$(wal_stats "$database")"
    while read -r p ticks; do
      d=$((ticks - ${pgproc_before[$p]:-0}))
      if [ "$d" -gt "$pg_busiest" ]; then
        pg_busiest=$d
        pg_busiest_what="$(tr '\0' ' ' <"/proc/$p/cmdline" | sed 's/ *$//')"
      fi
    done < <(pg_snapshot)
  fi
  # The generators print their figures once every connection has sent all.
  local first=0 sent=0 errors=0 f
  for ((i = 0; i < ncores; i++)); do
    for _ in $(seq 100); do grep -q '^ready=1' "${flood_out[i]}" && break; sleep 0.1; done
    f="$(kv first_byte_us "${flood_out[i]}")"
    if [ "$first" = 0 ] || [ "$f" -lt "$first" ]; then first=$f; fi
    sent=$((sent + $(kv sent "${flood_out[i]}")))
    errors=$((errors + $(kv errors "${flood_out[i]}")))
  done
  local failed=0 last=0
  {
    for ((i = 0; i < ncores; i++)); do
      f="$(metric "$i" honeycomb_events_failed_total)"
      failed=$((failed + f))
      f="$(kv first_byte_us "${flood_out[i]}")"
      echo "core${i}_events=${share[i]}"
      echo "core${i}_secs=$(awk -v a="$f" -v b="${done_us[i]}" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')"
      [ "${done_us[i]}" -gt "$last" ] && last="${done_us[i]}"
    done
    echo "secs=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')"
    echo "sent=$sent"
    echo "gen_errors=$errors"
    echo "failed=$failed"
    echo "core_cpu=$(secs_of $((cpu_after - cpu_before)))"
    echo "busiest_thread=$(secs_of "$busiest")"
    echo "busiest_thread_core=$busiest_core"
    if [ "$kind" = pg ]; then
      echo "pg_cpu=$(secs_of $((pg_after - pg_before)))"
      echo "pg_busiest=$(secs_of "$pg_busiest")"
      echo "pg_busiest_what=$pg_busiest_what"
    fi
  } >"$res"
  for p in "${flood_pids[@]}"; do stop_process "$p" TERM; done
  flood_pids=()
  for p in "${core_pids[@]}"; do stop_process "$p" INT; done
  core_pids=()

  # Checks: every event once, a sample of ids present.
  local rows distinct found ids
  ids="$(sample_ids)"
  if [ "$kind" = pg ]; then
    # WAL counters of backends are flushed when they exit: read after the cores stopped.
    read -r wal0 fpi0 sync0 ckpt0 <<<"$wal_before"
    read -r wal1 _ _ _ <<<"$wal_at_done"
    read -r _ fpi2 sync2 ckpt2 <<<"$(wal_stats "$database")"
    {
      echo "wal_bytes=$((wal1 - wal0))"
      echo "wal_fpi=$((fpi2 - fpi0))"
      echo "wal_syncs=$((sync2 - sync0))"
      echo "checkpoints=$((ckpt2 - ckpt0))"
    } >>"$res"
    IFS='|' read -r rows distinct <<<"$(psql_at "$database" "SELECT count(*), count(DISTINCT event_id) FROM events")"
    found="$(psql_at "$database" "SELECT count(*) FROM events WHERE event_id IN ($(sed "s/.*/'&'/" <<<"$ids" | paste -sd,))")"
    echo "db_bytes=$(psql_at "$database" "SELECT pg_database_size(current_database())")" >>"$res"
  else
    read -r rows distinct found < <(python3 - "$database" <<<"$ids" 3<&0 <<'PY'
import os, sqlite3, sys
ids = [l.strip() for l in os.fdopen(3) if l.strip()]
c = sqlite3.connect(sys.argv[1])
rows, distinct = c.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
found = sum(c.execute(f"SELECT count(*) FROM events WHERE event_id IN ({','.join('?' * len(ids[i:i + 500]))})",
                      ids[i:i + 500]).fetchone()[0] for i in range(0, len(ids), 500))
print(rows, distinct, found)
PY
)
    echo "db_bytes=$(du -cb "$database"* | tail -1 | cut -f1)" >>"$res"
  fi
  local samples
  samples="$(wc -l <<<"$ids")"
  local reasons=()
  [ "$sent" = "$total" ] || reasons+=("generators sent $sent of $total (errors $errors)")
  [ "$rows" = "$total" ] || reasons+=("$rows rows stored for $total sent")
  [ "$distinct" = "$rows" ] || reasons+=("$((rows - distinct)) duplicate event_ids")
  [ "$found" = "$samples" ] || reasons+=("$((samples - found)) of $samples sampled ids missing")
  [ "$failed" = 0 ] || reasons+=("$failed events failed")
  {
    echo "rows=$rows"
    if [ ${#reasons[@]} -eq 0 ]; then echo "loss=OK"; else echo "loss=LOSS ($(IFS=';'; echo "${reasons[*]}"))"; fi
  } >>"$res"
}

# (awk: a ">" in printf's arguments would be a redirection: parenthesised.)
rate_of() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
per_event_us() { awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", (n > 0 ? c * 1e6 / n : 0) }'; }
pct_of() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", (b > 0 ? 100 * a / b : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
status=0

echo "bench: core on PostgreSQL; phases $phases; $(nproc) cores: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo);" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)$([ "$quick" = 1 ] && echo "; QUICK (smoke-run sizes)")"

# ---- phases 1 and 2: ingest ------------------------------------------------------------
if [[ "$phases" == *[12]* ]]; then
  progress "starting a durable PostgreSQL server in $pg_dir"
  HONEYCOMB_PG_DURABLE=1 "$pg_server" start "$pg_dir" >/dev/null || die "cannot start PostgreSQL"
  pg_up=1
  apply_settings "$pg_dir"
  pg_uri="$(cat "$pg_dir/uri")"
  echo "bench: PostgreSQL $(psql_at "$pg_uri" "SHOW server_version" | cut -d' ' -f1): $(server_settings "$pg_uri")"
  [ "$pg_floor" != 1 ] || echo "bench: BENCH_PG_FLOOR=1: the five filter indexes are dropped in phases 1 and 2 (a measurement of the ceiling, not a configuration)"
  echo "bench: ingest load: $nodes nodes x $per_node events = $total PotEvents per run (honeycomb_node_flood, seed $seed); cores with io_threads $io_threads"
fi

row() { printf '%-40s %16s %16s\n' "$@"; }
if [[ "$phases" == *1* ]]; then
  progress "phase 1: one core on SQLite (baseline)"
  ingest_run sqlite 1 "$work/sqlite-events.db" sqlite
  progress "phase 1: one core on PostgreSQL"
  ingest_run pg1 1 "$(create_db "$pg_uri" ingest1)" pg
  psql_at "$pg_uri" "DROP DATABASE ingest1" >/dev/null  # its disk space back before phase 2
  s="$work/sqlite.res" p="$work/pg1.res"
  s_rate="$(rate_of "$(kv rows "$s")" "$(kv secs "$s")")"
  p_rate="$(rate_of "$(kv rows "$p")" "$(kv secs "$p")")"
  p_secs="$(kv secs "$p")"
  echo
  echo "== phase 1: one core, $total PotEvents from $nodes nodes"
  row "" "SQLite (base)" "PostgreSQL"
  row "events stored / zero loss" "$(kv rows "$s") $(kv loss "$s" | cut -c1-4)" "$(kv rows "$p") $(kv loss "$p" | cut -c1-4)"
  row "wall s, first byte -> last commit" "$(kv secs "$s")" "$p_secs"
  row "events/s" "$s_rate" "$p_rate"
  row "core CPU us/event" "$(per_event_us "$(kv core_cpu "$s")" "$total")" "$(per_event_us "$(kv core_cpu "$p")" "$total")"
  row "core's busiest thread, % of wall" "$(pct_of "$(kv busiest_thread "$s")" "$(kv secs "$s")")" "$(pct_of "$(kv busiest_thread "$p")" "$p_secs")"
  row "PostgreSQL CPU us/event" "-" "$(per_event_us "$(kv pg_cpu "$p")" "$total")"
  row "PostgreSQL busiest process, % of wall" "-" "$(pct_of "$(kv pg_busiest "$p")" "$p_secs")"
  row "WAL bytes/event (full-page images)" "-" "$(awk -v b="$(kv wal_bytes "$p")" -v n="$total" 'BEGIN { printf "%.0f", b / n }') ($(kv wal_fpi "$p"))"
  row "WAL syncs, checkpoints" "-" "$(kv wal_syncs "$p"), $(kv checkpoints "$p")"
  row "database size MB" "$(mb $(($(kv db_bytes "$s") / 1024)))" "$(mb $(($(kv db_bytes "$p") / 1024)))"
  echo "PostgreSQL busiest process: $(kv pg_busiest_what "$p")"
  echo "PostgreSQL / SQLite events/s: $(ratio "$p_rate" "$s_rate")"
  if [ "$(kv loss "$p")" = OK ] && [ "$p_rate" -ge "$target" ]; then met=met; else met="not met"; fi
  echo "target >= 100,000 events/s per core into PostgreSQL, zero loss: $met ($p_rate events/s)"
  for r in "$s" "$p"; do [ "$(kv loss "$r")" = OK ] || { echo "LOSS: $(kv loss "$r")"; status=1; }; done
fi

if [[ "$phases" == *2* ]]; then
  progress "phase 2: two cores on one PostgreSQL database"
  ingest_run pg2 2 "$(create_db "$pg_uri" ingest2)" pg
  psql_at "$pg_uri" "DROP DATABASE ingest2" >/dev/null
  p="$work/pg2.res"
  a_rate="$(rate_of "$(kv core0_events "$p")" "$(kv core0_secs "$p")")"
  b_rate="$(rate_of "$(kv core1_events "$p")" "$(kv core1_secs "$p")")"
  all_rate="$(rate_of "$(kv rows "$p")" "$(kv secs "$p")")"
  echo
  echo "== phase 2: two cores, one PostgreSQL database, $total PotEvents from $nodes nodes (half to each core)"
  printf '%-40s %12s %12s %12s\n' "" "core A" "core B" "both"
  printf '%-40s %12s %12s %12s\n' "events" "$(kv core0_events "$p")" "$(kv core1_events "$p")" "$(kv rows "$p") $(kv loss "$p" | cut -c1-4)"
  printf '%-40s %12s %12s %12s\n' "wall s, first byte -> last commit" "$(kv core0_secs "$p")" "$(kv core1_secs "$p")" "$(kv secs "$p")"
  printf '%-40s %12s %12s %12s\n' "events/s" "$a_rate" "$b_rate" "$all_rate"
  printf '%-40s %38s\n' "cores' CPU us/event" "$(per_event_us "$(kv core_cpu "$p")" "$total")"
  printf '%-40s %38s\n' "PostgreSQL CPU us/event" "$(per_event_us "$(kv pg_cpu "$p")" "$total")"
  printf '%-40s %38s\n' "PostgreSQL busiest process, % of wall" "$(pct_of "$(kv pg_busiest "$p")" "$(kv secs "$p")")"
  printf '%-40s %38s\n' "WAL bytes/event, syncs, checkpoints" "$(awk -v b="$(kv wal_bytes "$p")" -v n="$total" 'BEGIN { printf "%.0f", b / n }'), $(kv wal_syncs "$p"), $(kv checkpoints "$p")"
  if [ -f "$work/pg1.res" ]; then
    echo "two cores / one core (both, events/s): $(ratio "$all_rate" "$(rate_of "$(kv rows "$work/pg1.res")" "$(kv secs "$work/pg1.res")")")"
  fi
  if [ "$(kv loss "$p")" = OK ] && [ "$a_rate" -ge "$target" ] && [ "$b_rate" -ge "$target" ]; then met=met; else met="not met"; fi
  echo "target >= 100,000 events/s per core, two cores: $met ($a_rate and $b_rate events/s)"
  [ "$(kv loss "$p")" = OK ] || { echo "LOSS: $(kv loss "$p")"; status=1; }
fi

if [ "$pg_up" = 1 ]; then
  "$pg_server" stop "$pg_dir" >/dev/null 2>&1 || true
  pg_up=0
fi

# ---- phase 3: API latency on the same events in SQLite and PostgreSQL ------------------
if [[ "$phases" == *3* ]]; then
  if [ "$quick" = 1 ]; then
    sqlite_store="${BENCH_STORE:-$work/store.db}"
    pg_store="${BENCH_PG_STORE:-$work.store-server}"
    [ -n "${BENCH_PG_STORE:-}" ] || store_keep=0
  else
    sqlite_store="${BENCH_STORE:-/var/tmp/honeycomb-bench-10m.db}"
    pg_store="${BENCH_PG_STORE:-/var/tmp/honeycomb-bench-pg-10m}"
  fi
  pg_store="$(realpath -m "$pg_store")"
  progress "phase 3: the SQLite store $sqlite_store"
  ensure_store "$sqlite_store" "$store_events" "$fill_bin" "$build_dir"

  # The PostgreSQL store: a server folder whose database `bench` holds the
  # events once its bench-store file says so.
  want="events=$store_events seed=1"
  if [ -f "$pg_store/bench-store" ]; then
    [ "$(cat "$pg_store/bench-store")" = "$want" ] ||
      die "$pg_store holds a store of $(cat "$pg_store/bench-store"), not $want: remove it ($pg_server stop $pg_store) or set BENCH_PG_STORE"
    progress "phase 3: starting the PostgreSQL store's server again ($pg_store)"
    store_dir="$pg_store"
    "$pg_server" resume "$pg_store" >/dev/null || die "cannot start the server of $pg_store again (remove it to rebuild: $pg_server stop $pg_store)"
    apply_settings "$pg_store"
    store_uri="$(cat "$pg_store/uri")"
  else
    progress "phase 3: filling a PostgreSQL store with $store_events events in $pg_store (kept for later runs)"
    HONEYCOMB_PG_DURABLE=1 "$pg_server" start "$pg_store" >/dev/null || die "cannot start PostgreSQL in $pg_store"
    store_dir="$pg_store"
    apply_settings "$pg_store"
    store_uri="$(cat "$pg_store/uri")"
    db_uri="$(create_db "$store_uri" bench)"
    "$fill_bin" --db "$db_uri" --events "$store_events" --print-rare 5 >"$pg_store/bench-store.info" ||
      die "store_fill into PostgreSQL failed"
    progress "phase 3: $(head -1 "$pg_store/bench-store.info") (SQLite's: $(head -1 "$sqlite_store.info" 2>/dev/null))"
    # What autovacuum does to a live store within minutes, at once: the
    # planner's statistics and the visibility map.
    progress "phase 3: VACUUM (ANALYZE) of the new store"
    psql_at "$db_uri" "VACUUM (ANALYZE) events" >/dev/null
    psql_at "$db_uri" "CHECKPOINT" >/dev/null
    echo "$want" >"$pg_store/bench-store"
  fi
  db_uri="${store_uri%/postgres}/bench"
  echo
  echo "== phase 3: API latency, the same $store_events events in SQLite and PostgreSQL"
  echo "bench: PostgreSQL: $(server_settings "$db_uri")"
  read -r pg_n pg_min pg_max pg_bytes <<<"$(psql_at "$db_uri" "SELECT count(*), min(event_us), max(event_us),
    pg_database_size(current_database()) FROM events" | tr '|' ' ')"
  python3 bench/core_postgres/api_latency.py params "$sqlite_store" >"$work/params.json"
  read -r s_min s_max s_n < <(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p["t_min"], p["t_max"], p["total"])' "$work/params.json")
  if [ "$pg_n $pg_min $pg_max" != "$s_n $s_min $s_max" ]; then
    echo "bench: warning: the stores differ (events, first, last: SQLite $s_n $s_min $s_max, PostgreSQL $pg_n $pg_min $pg_max)" >&2
  fi
  echo "bench: SQLite $(awk -v b="$(du -cb "$sqlite_store"* | tail -1 | cut -f1)" 'BEGIN { printf "%.1f GB", b / 1e9 }')," \
    "PostgreSQL $(awk -v b="$pg_bytes" 'BEGIN { printf "%.1f GB", b / 1e9 }'), $(psql_at "$db_uri" "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass") partitions;" \
    "$requests sequential requests per kind (at most ${budget} s each), limit=$limit; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for which in sqlite pg; do
    if [ "$which" = sqlite ]; then db="$sqlite_store"; else db="$db_uri"; fi
    progress "phase 3: a core on the $which store"
    start_core_on_store "$honeycomb_bin" "$db" "$work/api-$which"
    python3 bench/core_postgres/api_latency.py measure "$api_port" "$token" "$work/params.json" "$requests" \
      "$budget" "$limit" >"$work/api-$which.jsonl" || die "the $which measurement failed"
    stop_core
  done
  python3 bench/core_postgres/api_latency.py report "$work/api-sqlite.jsonl" "$work/api-pg.jsonl" SQLite PG || status=1
fi
exit "$status"
