#!/usr/bin/env bash
# Benchmark: the PostgreSQL server's CPU per stored event for several layouts
# of the events table (docs/BENCHMARKS.md, "Ingest with COPY straight into
# `events`"). It measures what bench/core_postgres/run.sh cannot take apart:
# how much of the server's work per event each index costs, and what block
# postings (lists per batch and filter value, as the SQLite store keeps)
# would cost instead.
#
#   bench/core_postgres/layouts.sh
#   BENCH_ROUNDS=1 BENCH_BATCHES=10 bench/core_postgres/layouts.sh   # smoke run
#
# Method: a durable private server (scripts/pg-test-server.sh with
# HONEYCOMB_PG_DURABLE=1) in a folder of /tmp removed at exit. One psql
# session per layout and round COPYs the same BENCH_BATCHES batches of 8,192
# generated events into a fresh, day-partitioned `events` table, one
# transaction per batch, as the core's writer does; the figure is the
# session's backend CPU (utime + stime from /proc/PID/stat) per event. The
# layouts run in turn within each round, so a busy machine slows them alike;
# each is reported against `btrees`, the layout of schemas 4 and 5.
#
# Layouts:
#   btrees     the unique (event_us, event_id) index, a B-tree on id, and the
#              five filter B-trees (pot, event type, pot type, node, source)
#   hashkeys   as btrees, the pot, event type and pot type B-trees keyed by
#              hashtext() of the value (schema 6, the store's layout now)
#   src-lists  as btrees without the source B-tree; per batch, one row per
#              source address in `event_src` (key, time span, packed
#              (event_us, id) list), B-tree on (key, max_us)
#   lists      the unique index and the id B-tree only; per batch, one row
#              per value of each of the five filters in `event_postings`
#              (kind, key, ...), B-tree on (kind, key, max_us)
#   blocks     the unique index and the id B-tree only; per batch, one row per
#              value of the four small filters in `event_postings`, B-tree on
#              (kind, key, blk), and one row per source address in
#              `event_src_blk`, in address order, B-tree on (blk, key): each
#              batch's lists go to the right end of that index (an address's
#              blocks would be found from per-span summaries, as in SQLite,
#              not counted here)
#   blocks-addr  as blocks, plus a B-tree on event_src_blk(key, blk) that
#              finds an address's blocks directly
#   unique     the unique index and the id B-tree only: the floor
#
# The events: Cowrie-like rows of ~450 bytes, 8 pots on 8 nodes, 12 event
# types, 2 pot types, source addresses log-uniform over 50,000 (a few busy
# scanners, a long tail), as bench/core_ingest's generator.
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS     rounds (each runs every layout once) [3]
#   BENCH_BATCHES    transactions of 8,192 events per layout and round [49]
#   BENCH_LAYOUTS    which layouts, in this order
#                    [btrees hashkeys src-lists lists blocks blocks-addr unique]
#   BENCH_SEED       generator seed (0..1) [0.5]
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
. bench/lib.sh

rounds="${BENCH_ROUNDS:-3}"
batches="${BENCH_BATCHES:-49}"
readonly known_layouts="btrees hashkeys src-lists lists blocks blocks-addr unique"
layouts="${BENCH_LAYOUTS:-$known_layouts}"
seed="${BENCH_SEED:-0.5}"
readonly batch_rows=8192
for tool in psql awk; do
  command -v "$tool" >/dev/null || die "$tool not found (psql: Debian package postgresql-client)"
done
for l in $layouts; do
  [[ " $known_layouts " == *" $l "* ]] || die "BENCH_LAYOUTS: unknown layout '$l' (known: $known_layouts)"
done

work="$(mktemp -d /tmp/honeycomb-bench-layouts.XXXXXX)"
pg_dir="$work.server"
pg_up=0
cleanup() {
  set +e
  if [ "$pg_up" = 1 ]; then "$repo/scripts/pg-test-server.sh" stop "$pg_dir" >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"  # the server (another user, as root) reads the batches

echo "bench: starting a durable PostgreSQL server" >&2
HONEYCOMB_PG_DURABLE=1 "$repo/scripts/pg-test-server.sh" start "$pg_dir" >/dev/null || die "cannot start PostgreSQL"
pg_up=1
uri="$(cat "$pg_dir/uri")"
sql() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$uri" "$@"; }

# ---- the events, made once ----------------------------------------------------

total=$((batches * batch_rows))
echo "bench: generating $total events in $batches batches" >&2
sql <<SQL
SELECT setseed($seed);
CREATE UNLOGGED TABLE stage AS
SELECT n AS id, 'ev-' || n AS event_id,
  1796032800000000 + n * 1000 AS received_us,
  1796032800000000 + n * 1000 + (random() * 999)::bigint AS event_us,
  1 + n % 8 AS node_id, 'sensor-' || n % 8 AS pot_id,
  CASE WHEN n % 8 < 6 THEN 'cowrie' ELSE 'simple_http' END AS pot_type,
  (ARRAY['cowrie.session.connect','cowrie.login.failed','cowrie.login.success','cowrie.command.input',
         'cowrie.session.closed','cowrie.client.version','cowrie.client.kex','cowrie.direct-tcpip.request',
         'cowrie.session.file_download','cowrie.command.failed','cowrie.log.closed','cowrie.client.size'])
    [1 + (random() * 11)::int] AS event_type,
  a AS addr, 1024 + (random() * 64000)::int AS src_port
FROM (SELECT n::bigint AS n, floor(exp(random() * ln(50000)))::bigint AS a FROM generate_series(1, $total) AS n) g;
ALTER TABLE stage ADD COLUMN src_ip text, ADD COLUMN src_ip_bin bytea;
CREATE INDEX stage_id ON stage(id);
UPDATE stage SET src_ip = host(('0.0.0.0'::inet + ((addr * 2654435761) % 4278190080 + 16777216))),
  src_ip_bin = decode('00000000000000000000ffff', 'hex') || substr(int8send((addr * 2654435761) % 4278190080 + 16777216), 5, 4);
SQL
for ((b = 0; b < batches; b++)); do
  lo=$((b * batch_rows + 1)) hi=$(((b + 1) * batch_rows))
  sql -c "\\copy (SELECT id, event_id, received_us, event_us, node_id, pot_id, pot_type, event_type, src_ip,
      src_ip_bin, src_port, '10.0.0.5', 22, 'root', '123456', 'uname -a', lpad(to_hex(id), 12, '0'), '',
      'login attempt [root/123456] failed',
      json_build_object('eventid', event_type, 'src_ip', src_ip, 'src_port', src_port, 'dst_ip', '10.0.0.5',
        'dst_port', 22, 'session', lpad(to_hex(id), 12, '0'), 'username', 'root', 'password', '123456',
        'message', 'login attempt [root/123456] failed', 'sensor', pot_id, 'timestamp', event_us,
        'protocol', 'ssh', 'input', 'uname -a')::text
    FROM stage WHERE id BETWEEN $lo AND $hi) TO '$work/events.$b' WITH (FORMAT binary)"
  # The lists a writer would send with the batch: newest first, 16 bytes
  # (event_us, id) per entry.
  lists="SELECT kind::smallint, key, $lo::bigint AS blk, min(event_us), max(event_us), count(*)::int AS n,
      string_agg(int8send(event_us) || int8send(id), ''::bytea ORDER BY event_us DESC, id DESC)
    FROM (SELECT 1 AS kind, convert_to(pot_id, 'UTF8') AS key, event_us, id FROM stage WHERE id BETWEEN $lo AND $hi
      UNION ALL SELECT 2, convert_to(event_type, 'UTF8'), event_us, id FROM stage WHERE id BETWEEN $lo AND $hi
      UNION ALL SELECT 3, convert_to(pot_type, 'UTF8'), event_us, id FROM stage WHERE id BETWEEN $lo AND $hi
      UNION ALL SELECT 4, int8send(node_id), event_us, id FROM stage WHERE id BETWEEN $lo AND $hi
      UNION ALL SELECT 5, src_ip_bin, event_us, id FROM stage WHERE id BETWEEN $lo AND $hi) k
    GROUP BY kind, key"
  sql -c "\\copy ($lists) TO '$work/lists.$b' WITH (FORMAT binary)"
  sql -c "\\copy (SELECT key, blk, min, max, n, string_agg FROM ($lists) l WHERE kind = 5) TO '$work/src.$b' WITH (FORMAT binary)"
  # For `blocks`: the four small filters' lists, and the addresses' lists
  # in key order (appended to an index led by the block).
  sql -c "\\copy (SELECT * FROM ($lists) l WHERE kind < 5) TO '$work/small.$b' WITH (FORMAT binary)"
  sql -c "\\copy (SELECT blk, key, min, max, n, string_agg FROM ($lists) l WHERE kind = 5 ORDER BY key)
      TO '$work/srcblk.$b' WITH (FORMAT binary)"
done
rows_per_batch="$(sql -c "SELECT round(avg(c)) FROM (SELECT count(DISTINCT pot_id) + count(DISTINCT event_type)
  + count(DISTINCT pot_type) + count(DISTINCT node_id) + count(DISTINCT src_ip_bin) AS c FROM stage
  GROUP BY (id - 1) / $batch_rows) x")"
src_per_batch="$(sql -c "SELECT round(avg(c)) FROM (SELECT count(DISTINCT src_ip_bin) AS c FROM stage
  GROUP BY (id - 1) / $batch_rows) x")"
sql -c "DROP TABLE stage"
echo "bench: lists per batch: $rows_per_batch in all, $src_per_batch of them source addresses" >&2

# ---- one layout ------------------------------------------------------------------

# The events table of schema 4 (src/store/pg_storage.cpp), one day partition;
# the layout adds its indexes.
schema() {
  cat <<'SQL'
DROP TABLE IF EXISTS events, event_src, event_postings, event_src_blk;
CREATE TABLE events(id bigint NOT NULL, event_id text, received_us bigint NOT NULL, event_us bigint NOT NULL,
  node_id bigint NOT NULL, pot_id text NOT NULL, pot_type text NOT NULL, event_type text NOT NULL,
  src_ip text NOT NULL, src_ip_bin bytea, src_port integer NOT NULL, dst_ip text NOT NULL, dst_port integer NOT NULL,
  username text NOT NULL, password text NOT NULL, command text NOT NULL, session text NOT NULL, url text NOT NULL,
  message text NOT NULL, raw text NOT NULL) PARTITION BY RANGE (event_us);
CREATE TABLE events_day PARTITION OF events FOR VALUES FROM (1796000000000000) TO (1796100000000000);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE UNIQUE INDEX events_time_event_id ON events(event_us, event_id);
CREATE INDEX events_id ON events(id);
SQL
  case "$1" in
    btrees | src-lists)
      cat <<'SQL'
CREATE INDEX events_pot_time ON events(pot_id, event_us);
CREATE INDEX events_type_time ON events(event_type, event_us);
CREATE INDEX events_pot_type_time ON events(pot_type, event_us);
CREATE INDEX events_node_time ON events(node_id, event_us);
SQL
      ;;
  esac
  case "$1" in
    btrees) echo "CREATE INDEX events_src_time ON events(src_ip_bin, event_us);" ;;
    hashkeys)
      cat <<'SQL'
CREATE INDEX events_pot_time ON events(hashtext(pot_id), event_us);
CREATE INDEX events_type_time ON events(hashtext(event_type), event_us);
CREATE INDEX events_pot_type_time ON events(hashtext(pot_type), event_us);
CREATE INDEX events_node_time ON events(node_id, event_us);
CREATE INDEX events_src_time ON events(src_ip_bin, event_us);
SQL
      ;;
    src-lists)
      echo "CREATE TABLE event_src(key bytea NOT NULL, blk bigint NOT NULL, min_us bigint NOT NULL,
        max_us bigint NOT NULL, n integer NOT NULL, entries bytea NOT NULL);
        CREATE INDEX event_src_key ON event_src(key, max_us);"
      ;;
  esac
  case "$1" in
    lists | blocks | blocks-addr)
      echo "CREATE TABLE event_postings(kind smallint NOT NULL, key bytea NOT NULL, blk bigint NOT NULL,
        min_us bigint NOT NULL, max_us bigint NOT NULL, n integer NOT NULL, entries bytea NOT NULL);"
      ;;
  esac
  case "$1" in
    lists) echo "CREATE INDEX event_postings_key ON event_postings(kind, key, max_us);" ;;
    blocks | blocks-addr)
      echo "CREATE INDEX event_postings_key ON event_postings(kind, key, blk);
        CREATE TABLE event_src_blk(blk bigint NOT NULL, key bytea NOT NULL, min_us bigint NOT NULL,
        max_us bigint NOT NULL, n integer NOT NULL, entries bytea NOT NULL);
        CREATE INDEX event_src_blk_key ON event_src_blk(blk, key);"
      if [ "$1" = blocks-addr ]; then echo "CREATE INDEX event_src_blk_addr ON event_src_blk(key, blk);"; fi
      ;;
  esac
  echo "CHECKPOINT;"
}

# Prints the backend's CPU seconds for the layout's batches.
run_layout() {
  local layout="$1" ticks="$work/ticks" b
  schema "$layout" | sql >/dev/null || die "layout $layout: the schema was refused"
  {
    echo "SELECT pg_backend_pid() AS pid \\gset"
    echo "\\setenv BACKEND :pid"
    echo "\\! awk '{ sub(/.*\\) /, \"\"); split(\$0, f, \" \"); print f[12] + f[13] }' /proc/\$BACKEND/stat > $ticks"
    for ((b = 0; b < batches; b++)); do
      echo "BEGIN;"
      echo "COPY events FROM '$work/events.$b' WITH (FORMAT binary);"
      case "$layout" in
        src-lists) echo "COPY event_src FROM '$work/src.$b' WITH (FORMAT binary);" ;;
        lists) echo "COPY event_postings FROM '$work/lists.$b' WITH (FORMAT binary);" ;;
        blocks | blocks-addr)
          echo "COPY event_postings FROM '$work/small.$b' WITH (FORMAT binary);"
          echo "COPY event_src_blk FROM '$work/srcblk.$b' WITH (FORMAT binary);"
          ;;
      esac
      echo "COMMIT;"
    done
    echo "\\! awk '{ sub(/.*\\) /, \"\"); split(\$0, f, \" \"); print f[12] + f[13] }' /proc/\$BACKEND/stat >> $ticks"
  } | sql >/dev/null || die "layout $layout: a COPY failed"
  awk -v hz="$(getconf CLK_TCK)" 'NR == 1 { a = $1 } NR == 2 { printf "%.3f", ($1 - a) / hz }' "$ticks"
}

declare -A seconds
for ((r = 1; r <= rounds; r++)); do
  for l in $layouts; do
    s="$(run_layout "$l")"
    seconds[$l]="${seconds[$l]:-} $s"
    printf 'bench: round %d %-10s %6.2f us/event\n' "$r" "$l" "$(awk -v s="$s" -v n="$total" 'BEGIN { print s * 1e6 / n }')" >&2
  done
done

echo
echo "PostgreSQL server CPU per stored event ($batches x $batch_rows events per layout and round, $rounds rounds;"
echo "lists per batch: $rows_per_batch, of which $src_per_batch source addresses)"
printf '%-10s | %-28s | %s\n' layout "us/event by round" "against btrees (median)"
for l in $layouts; do
  per_round="$(for s in ${seconds[$l]}; do awk -v s="$s" -v n="$total" 'BEGIN { printf "%.2f ", s * 1e6 / n }'; done)"
  ratio="-"
  if [ -n "${seconds[btrees]:-}" ]; then
    # The median over the rounds of (layout / btrees) within each round.
    ratio="$(paste <(tr ' ' '\n' <<<"${seconds[$l]}" | sed '/^$/d') <(tr ' ' '\n' <<<"${seconds[btrees]}" | sed '/^$/d') |
      awk '{ print $1 / $2 }' | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
  fi
  printf '%-10s | %-28s | %s\n' "$l" "$per_round" "$ratio"
done
