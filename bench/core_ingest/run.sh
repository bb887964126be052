#!/usr/bin/env bash
# Benchmark: PotEvents per second from N simulated nodes into the core's
# SQLite store, with zero loss, against the raw SQLite insert rate of the same
# records measured in the same run. See docs/BENCHMARKS.md.
#
#   bench/core_ingest/run.sh
#
# Environment (defaults in brackets):
#   HONEYCOMB_BUILD_DIR   build tree holding bin/honeycomb [build]; the
#                         generator (bin/honeycomb_node_flood) is built there
#                         when missing
#   BENCH_NODES           simulated nodes (connections) [8]
#   BENCH_EVENTS          events per node [250000]
#   BENCH_SEED            generator seed [1]
#   BENCH_IO_THREADS      the core's io_threads [2, the default]
#   BENCH_INGEST_QUEUE    the core's ingest_queue [unset: the core's default]
#   BENCH_INGEST_BATCH    the core's ingest_batch [unset: the core's default]
#   BENCH_DEADLINE        seconds to wait for every event to be stored [900]
#   BENCH_BASELINE        0: skip the raw SQLite baseline [1]
#   BENCH_KEEP            1: keep the temp dir (core log, databases) [0]
#   BENCH_TMP             where the temp dir (and so the store) goes [/tmp]
#
# Exit status: 0 when every event sent was stored exactly once, 1 on loss or
# duplicates, 2 on a setup failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

build_dir="${HONEYCOMB_BUILD_DIR:-build}"
nodes="${BENCH_NODES:-8}"
per_node="${BENCH_EVENTS:-250000}"
seed="${BENCH_SEED:-1}"
io_threads="${BENCH_IO_THREADS:-2}"
deadline_s="${BENCH_DEADLINE:-900}"
baseline="${BENCH_BASELINE:-1}"
total=$((nodes * per_node))
target=200000

. bench/lib.sh

honeycomb_bin="$repo/$build_dir/bin/honeycomb"
flood_bin="$repo/$build_dir/bin/honeycomb_node_flood"
[ -x "$honeycomb_bin" ] || die "$honeycomb_bin not found; run scripts/build.sh release (or set HONEYCOMB_BUILD_DIR)"
if [ ! -x "$flood_bin" ]; then
  cmake --build "$build_dir" -j2 --target honeycomb_node_flood >&2 || die "cannot build honeycomb_node_flood"
fi
command -v python3 >/dev/null || die "python3 not found"
command -v curl >/dev/null || die "curl not found"

work="$(mktemp -d ${BENCH_TMP:-/tmp}/honeycomb-bench-ingest.XXXXXX)"
core_pid=""
flood_pid=""
cleanup() {
  stop_process "$flood_pid" TERM
  stop_process "$core_pid" INT
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

now_us() { date +%s%6N; }
# utime + stime of a process (or one thread), in clock ticks. The command name
# is in parentheses and may contain spaces: count fields after the last ')'.
cpu_ticks() { sed 's/.*) //' "$1/stat" | awk '{ print $12 + $13 }'; }
# utime, stime (clock ticks), minor page faults and bytes written (write
# calls: the WAL for the writer, the database file for the checkpointer).
cpu_split() { echo "$(sed 's/.*) //' "$1/stat" | awk '{ print $12, $13, $8 }') $(awk '$1 == "wchar:" { print $2 }' "$1/io")"; }
kv() { awk -F= -v k="$1" '$1 == k { print $2 }' "$2" | tail -1; }

# --- the core ------------------------------------------------------------------
node_port="$(free_port)"
api_port="$(free_port)"
ws_port="$(free_port)"
home="$work/home"
# node_auth open: the load generator's nodes speak plain TCP without a
# certificate (the default, certificate, would turn them away).
cat >"$work/core.yml" <<EOF
io_threads: $io_threads
api_rate_per_second: 0
node_auth: open
EOF
if [ -n "${BENCH_INGEST_QUEUE:-}" ]; then echo "ingest_queue: $BENCH_INGEST_QUEUE" >>"$work/core.yml"; fi
if [ -n "${BENCH_INGEST_BATCH:-}" ]; then echo "ingest_batch: $BENCH_INGEST_BATCH" >>"$work/core.yml"; fi
hc=("$honeycomb_bin" --home "$home")
if [ "$(id -u)" -eq 0 ]; then hc+=(--iamroot); fi
"${hc[@]}" core --config "$work/core.yml" --node-listen "127.0.0.1:$node_port" \
  --api-listen "127.0.0.1:$api_port" --ws-listen "127.0.0.1:$ws_port" >"$work/core.log" 2>&1 &
core_pid=$!
wait_listening "$api_port" "$core_pid" "the core" "$work/core.log"
wait_listening "$node_port" "$core_pid" "the core" "$work/core.log"
token="$(cat "$home/core/api-token")"
db="$home/core/events.db"
metric() {
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port/metrics" |
    awk -v k="$1" '$1 == k { print $2 }'
}
idle_rss="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$core_pid/status")"
hz="$(getconf CLK_TCK)"
declare -A t_before
declare -A t_split_before
for t in /proc/"$core_pid"/task/*; do
  t_before[${t##*/}]="$(cpu_ticks "$t")"
  t_split_before[${t##*/}]="$(cpu_split "$t")"
done
cpu_before="$(cpu_ticks "/proc/$core_pid")"

echo "bench: $nodes nodes x $per_node events = $total PotEvents -> core (io_threads $io_threads);" \
  "$(nproc) cores: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- load ------------------------------------------------------------------------
"$flood_bin" --port "$node_port" --nodes "$nodes" --events-per-node "$per_node" --seed "$seed" --hold \
  >"$work/flood.out" 2>"$work/flood.err" &
flood_pid=$!
# One keep-alive poller (not curl in a loop: that took ~25 % of the CPU).
set +e
python3 bench/wait_stored.py --deadline "$deadline_s" --watch "$core_pid" "$flood_pid" \
  --core "$api_port" "$token" "$total" >"$work/wait.out"
wait_rc=$?
set -e
case "$wait_rc" in
  0) done_us="$(kv done_us.0 "$work/wait.out")" ;;
  1) echo "bench: deadline: $(kv stored.0 "$work/wait.out") of $total stored after ${deadline_s} s" >&2
     done_us="$(now_us)" ;;
  *) kill -0 "$core_pid" 2>/dev/null || die "the core exited: $(tail -5 "$work/core.log")"
     die "the generator exited: $(cat "$work/flood.err")" ;;
esac
cpu_after="$(cpu_ticks "/proc/$core_pid")"
declare -A t_after
declare -A t_name
declare -A t_split_after
main_name="$(cat "/proc/$core_pid/comm")"
main_tid="$core_pid"
for t in /proc/"$core_pid"/task/*; do
  t_after[${t##*/}]="$(cpu_ticks "$t")"
  t_split_after[${t##*/}]="$(cpu_split "$t")"
  t_name[${t##*/}]="$(cat "$t/comm")"
done
hwm="$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$core_pid/status")"
loaded_rss="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$core_pid/status")"
# The generator prints its figures once every connection has sent everything.
for _ in $(seq 100); do grep -q '^ready=1' "$work/flood.out" && break; sleep 0.1; done
sent="$(kv sent "$work/flood.out")"
first_us="$(kv first_byte_us "$work/flood.out")"
last_write_us="$(kv last_write_us "$work/flood.out")"
gen_cpu="$(kv gen_cpu_s "$work/flood.out")"
flood_errors="$(kv errors "$work/flood.out")"
received="$(metric honeycomb_events_received_total)"
failed="$(metric honeycomb_events_failed_total)"
dups="$(metric honeycomb_events_duplicates_total)"
transactions="$(metric honeycomb_store_transactions_total)"
kill -TERM "$flood_pid" 2>/dev/null || true
wait "$flood_pid" 2>/dev/null || true
flood_pid=""
kill -INT "$core_pid"
wait "$core_pid" || true
core_pid=""

# --- check: every event once, a sample of ids present -------------------------------
read -r rows distinct sample_found sample_n < <(python3 - "$db" "$nodes" "$per_node" "$seed" <<'PY'
import random, sqlite3, sys
db, nodes, per_node, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = sqlite3.connect(db)
rows, distinct = c.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
rng = random.Random(seed)
ids = {f"bench-{1000000000 + rng.randrange(nodes)}-{rng.randrange(per_node):012d}" for _ in range(1000)} if per_node else set()
found = 0
ids = list(ids)
for i in range(0, len(ids), 500):
    chunk = ids[i:i + 500]
    found += c.execute(f"SELECT count(*) FROM events WHERE event_id IN ({','.join('?' * len(chunk))})", chunk).fetchone()[0]
print(rows, distinct, found, len(ids))
PY
)

# --- baseline: SQLite alone inserting the same rows ---------------------------------
# A fresh database with the core's own schema (copied from sqlite_master: the
# same table and indexes) and pragmas (WAL, synchronous=NORMAL, 64 KiB pages),
# filled by SQLite itself (INSERT ... SELECT from the core's database, as
# many rows per transaction as the core's writer: ingest_batch): no parsing,
# no client language, no network. The upper bound for any writer on this
# machine.
raw_rate=""
if [ "$baseline" = 1 ]; then
  raw_rate="$(python3 - "$db" "$work/raw.db" "${BENCH_INGEST_BATCH:-32768}" <<'PY'
import sqlite3, sys, time
src, dst = sys.argv[1], sys.argv[2]
batch = int(sys.argv[3]) or 32768  # ingest_batch 0: the SQLite store's own
s = sqlite3.connect(src)
ddl = [r[0] for r in s.execute(
    "SELECT sql FROM sqlite_master WHERE tbl_name = 'events' AND sql IS NOT NULL ORDER BY type DESC")]
cols = [r[1] for r in s.execute("PRAGMA table_info(events)") if r[1] != "id"]
lo, hi = s.execute("SELECT min(id), max(id) FROM events").fetchone()
s.close()
d = sqlite3.connect(dst, isolation_level=None)
for p in ("page_size=65536", "journal_mode=WAL", "synchronous=NORMAL", "temp_store=MEMORY", "cache_size=-65536"):
    d.execute("PRAGMA " + p)
for q in ddl:
    d.execute(q)
d.execute("ATTACH ? AS src", (src,))
# Warm the page cache with the source so the copy measures inserting.
d.execute("SELECT count(*), sum(length(raw)) FROM src.events").fetchone()
c = ",".join(cols)
t0 = time.perf_counter()
n = 0
for a in range(lo, hi + 1, batch):
    d.execute("BEGIN")
    n += d.execute(f"INSERT INTO main.events({c}) SELECT {c} FROM src.events WHERE id BETWEEN ? AND ?",
                   (a, a + batch - 1)).rowcount
    d.execute("COMMIT")
dt = time.perf_counter() - t0
print(int(n / dt))
PY
)"
fi

# --- report ------------------------------------------------------------------------
secs="$(awk -v a="$first_us" -v b="$done_us" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')"
rate="$(awk -v n="$rows" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
send_secs="$(awk -v a="$first_us" -v b="$last_write_us" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')"
cpu_s="$(awk -v a="$cpu_before" -v b="$cpu_after" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')"
cpu_us_per_event="$(awk -v c="$cpu_s" -v n="$rows" 'BEGIN { printf "%.2f", c * 1e6 / n }')"

printf '\n%-44s %s\n' "events sent (generator)" "$sent"
printf '%-44s %s\n' "events received (core)" "$received"
printf '%-44s %s (distinct event_id %s; duplicates reported %s; failed %s)\n' "events stored (rows in events.db)" "$rows" "$distinct" "$dups" "$failed"
printf '%-44s %s of %s present\n' "sampled event_ids" "$sample_found" "$sample_n"
printf '%-44s %s s (generator done writing after %s s)\n' "wall time, first byte -> last commit" "$secs" "$send_secs"
printf '%-44s %s\n' "core events/s" "$rate"
printf '%-44s %s (%s events each)\n' "store transactions" "$transactions" \
  "$(awk -v n="$rows" -v t="$transactions" 'BEGIN { if (t > 0) printf "%.0f", n / t; else print "-" }')"
printf '%-44s %s s = %s us per event (generator: %s s)\n' "core CPU time (utime+stime)" "$cpu_s" "$cpu_us_per_event" "$gen_cpu"
printf '%-44s %s MB (idle before load %s MB, after load %s MB)\n' "core peak RSS (VmHWM)" "$(mb "$hwm")" "$(mb "$idle_rss")" "$(mb "$loaded_rss")"
echo "core CPU per thread (by the names the core gives them; main = the first I/O thread, unnamed = database pool;"
echo "user and kernel time, minor page faults, bytes passed to write calls):"
for tid in $(printf '%s\n' "${!t_after[@]}" | sort -n); do
  role="${t_name[$tid]}"
  if [ "$tid" = "$main_tid" ]; then role="main/core-io"; elif [ "$role" = "$main_name" ]; then role="db pool"; fi
  d=$(( ${t_after[$tid]} - ${t_before[$tid]:-0} ))
  split="$(awk -v a="${t_split_after[$tid]}" -v b="${t_split_before[$tid]:-0 0 0 0}" -v hz="$hz" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    printf "user %5.2f s, kernel %5.2f s, %7d faults, %6.0f MB written", (x[1] - y[1]) / hz, (x[2] - y[2]) / hz, x[3] - y[3],
      (x[4] - y[4]) / 1e6 }')"
  printf '    %-14s tid %-8s %6.2f s (%3s%%)  %s\n' "$role" "$tid" "$(awk -v d="$d" -v hz="$hz" 'BEGIN { print d / hz }')" \
    "$(awk -v d="$d" -v t="$cpu_after" -v b="$cpu_before" 'BEGIN { if (t > b) printf "%.0f", 100 * d / (t - b); else print 0 }')" "$split"
done
if [ -n "$raw_rate" ]; then
  printf '%-44s %s\n' "raw SQLite insert rate (same rows, same schema)" "$raw_rate"
  printf '%-44s %s\n' "core / raw sqlite" "$(awk -v a="$rate" -v b="$raw_rate" 'BEGIN { printf "%.2f", a / b }')"
fi

status=OK
reasons=()
[ "$sent" = "$total" ] || reasons+=("generator sent $sent of $total (errors $flood_errors)")
[ "$rows" = "$total" ] || reasons+=("$rows rows stored for $total sent")
[ "$distinct" = "$rows" ] || reasons+=("$((rows - distinct)) duplicate event_ids")
[ "$sample_found" = "$sample_n" ] || reasons+=("$((sample_n - sample_found)) sampled ids missing")
[ "${failed:-0}" = 0 ] || reasons+=("$failed events failed")
if [ ${#reasons[@]} -gt 0 ]; then status=LOSS; fi
printf '\nzero loss: %s' "$status"
if [ ${#reasons[@]} -gt 0 ]; then printf ' (%s)' "$(IFS=';'; echo "${reasons[*]}")"; fi
printf '\n'
if [ "$status" = OK ] && [ "$rate" -ge "$target" ]; then met="met"; else met="not met"; fi
printf 'target 200,000 events/s sustained with zero loss: %s (%s events/s)\n' "$met" "$rate"
[ "$status" = OK ] || exit 1
