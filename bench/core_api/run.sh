#!/usr/bin/env bash
# Benchmark: latency of filtered newest-first event pages from the core's
# REST API on a 10-million-event store. See docs/BENCHMARKS.md.
#
#   bench/core_api/run.sh
#
# The store is built once (bin/honeycomb_store_fill, through the project's
# storage API) and cached: about 9.5 GB for 10 M events, 5-10 minutes to
# fill on this machine. Later runs reuse it.
#
# Environment (defaults in brackets):
#   HONEYCOMB_BUILD_DIR   build tree holding bin/honeycomb [build]; the filler
#                         (bin/honeycomb_store_fill) is built there when missing
#   BENCH_STORE           the cached store [/var/tmp/honeycomb-bench-10m.db]
#   BENCH_STORE_EVENTS    events to fill it with when it does not exist [10000000]
#   BENCH_REQUESTS        sequential requests per query kind [200]
#   BENCH_KIND_BUDGET     seconds one query kind may take at most; a kind that
#                         hits it reports the requests it made [30]
#   BENCH_LIMIT           page size [50]
#   BENCH_KEEP            1: keep the temp dir (core home, log) [0]
#
# Exit status: 0 when every request was answered 200, 1 otherwise, 2 on a
# setup failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

build_dir="${HONEYCOMB_BUILD_DIR:-build}"
store="${BENCH_STORE:-/var/tmp/honeycomb-bench-10m.db}"
store_events="${BENCH_STORE_EVENTS:-10000000}"
requests="${BENCH_REQUESTS:-200}"
budget="${BENCH_KIND_BUDGET:-30}"
limit="${BENCH_LIMIT:-50}"

. bench/lib.sh

honeycomb_bin="$repo/$build_dir/bin/honeycomb"
fill_bin="$repo/$build_dir/bin/honeycomb_store_fill"
[ -x "$honeycomb_bin" ] || die "$honeycomb_bin not found; run scripts/build.sh release (or set HONEYCOMB_BUILD_DIR)"
command -v python3 >/dev/null || die "python3 not found"

# --- the store ---------------------------------------------------------------------
ensure_store "$store" "$store_events" "$fill_bin" "$build_dir"
store_bytes="$(du -cb "$store"* | tail -1 | cut -f1)"

work="$(mktemp -d /tmp/honeycomb-bench-api.XXXXXX)"
cleanup() {
  stop_core
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- the core on the store ----------------------------------------------------------
start_core_on_store "$honeycomb_bin" "$store" "$work"

echo "bench: core on $store ($(awk -v b="$store_bytes" 'BEGIN { printf "%.1f GB", b / 1e9 }') with WAL)," \
  "$requests sequential requests per kind (at most ${budget} s each), limit=$limit;" \
  "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

status=0
python3 - "$api_port" "$token" "$store" "$requests" "$budget" "$limit" "$core_pid" <<'PY' || status=$?
import http.client, json, random, sqlite3, sys, time, urllib.parse

port, token, store, requests, budget, limit, core_pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), \
    float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
rng = random.Random(1)

# What the store holds: its time span, ids and values to filter on.
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
t_min, t_max, total = db.execute("SELECT min(event_us), max(event_us), max(id) FROM events").fetchone()
newest = db.execute("SELECT pot_type, event_type, node_id, pot_id, src_ip FROM events ORDER BY id DESC LIMIT 2000").fetchall()
db.close()
pot_types = sorted({r[0] for r in newest})
event_types = sorted({r[1] for r in newest})
node_ids = sorted({r[2] for r in newest})
pot_ids = sorted({r[3] for r in newest})
rare = []
try:
    rare = [l.split("=", 1)[1].strip() for l in open(store + ".info") if l.startswith("rare_ip=")]
except OSError:
    pass
if not rare:  # not filled by this script: the least frequent addresses among recent events
    counts = {}
    for r in newest:
        counts[r[4]] = counts.get(r[4], 0) + 1
    rare = sorted(counts, key=counts.get)[:5]
common = max(set(r[4] for r in newest), key=[r[4] for r in newest].count)

def iso(us):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us / 1e6))

def window():
    start = rng.randrange(t_min, t_max - 3600 * 10**6)
    return {"since": iso(start), "until": iso(start + 3600 * 10**6)}

conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
headers = {"Authorization": "Bearer " + token}

def get(params):
    q = urllib.parse.urlencode(dict(params, limit=limit))
    t0 = time.perf_counter()
    conn.request("GET", "/api/v1/events?" + q, headers=headers)
    r = conn.getresponse()
    body = r.read()
    dt = (time.perf_counter() - t0) * 1000
    return r.status, body, dt

# A page-2 cursor per event type (fetched once, outside the measurement).
cursors = []
for et in event_types:
    s, b, _ = get({"event_type": et})
    if s == 200:
        c = json.loads(b).get("next_cursor")
        if c:
            cursors.append({"event_type": et, "cursor": c})

kinds = [
    ("no filter (newest page)", lambda: {}),
    ("pot_type=<one of %d>" % len(pot_types), lambda: {"pot_type": rng.choice(pot_types)}),
    ("event_type=<one of %d>" % len(event_types), lambda: {"event_type": rng.choice(event_types)}),
    ("pot=<one of %d>" % len(pot_ids), lambda: {"pot": rng.choice(pot_ids)}),
    ("node=<one of %d>" % len(node_ids), lambda: {"node": str(rng.choice(node_ids))}),
    ("src=<busiest ip>", lambda: {"src": common}),
    ("src=<rare ip>", lambda: {"src": rng.choice(rare)}),
    ("src=10.0.0.0/8", lambda: {"src": "10.0.0.0/8"}),
    ("since&until (1 h window)", window),
    ("since&until + pot_type", lambda: dict(window(), pot_type=rng.choice(pot_types))),
    ("q=wget (free text)", lambda: {"q": "wget"}),
    ("q=<rare ip> (free text)", lambda: {"q": rng.choice(rare)}),
    ("event_type, page 2 (cursor)", lambda: rng.choice(cursors) if cursors else {}),
]

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

print(f"\n{'query (GET /api/v1/events?...&limit=%d)' % limit:<40} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'rows':>5} {'partial':>7}  non-200  target p99 < 50 ms")
bad = 0
for name, make in kinds:
    for _ in range(3):  # warm-up, not measured
        get(make())
    # partial: answers that stopped at the free-text scan budget (docs/API.md)
    lat, errors, rows, partial, start = [], {}, 0, 0, time.perf_counter()
    while len(lat) < requests and (time.perf_counter() - start < budget or len(lat) < 5):
        s, b, dt = get(make())
        lat.append(dt)
        if s != 200:
            errors[s] = errors.get(s, 0) + 1
        else:
            page = json.loads(b)
            rows = len(page["events"])
            partial += 1 if page.get("partial") else 0
    p99 = pct(lat, 99)
    met = "met" if p99 < 50 and not errors else "not met"
    capped = "" if len(lat) >= requests else " (time budget)"
    err = ",".join(f"{k}x{v}" for k, v in errors.items()) or "-"
    bad += sum(errors.values())
    print(f"{name:<40} {len(lat):>5} {pct(lat, 50):>9.2f} {p99:>9.2f} {max(lat):>9.2f} {rows:>5} {partial:>7}  {err:>7}  {met}{capped}")
    sys.stdout.flush()
rss = [l.split()[1] for l in open(f"/proc/{core_pid}/status") if l.startswith(("VmRSS", "VmHWM"))]
print(f"\ncore VmRSS after the queries: {int(rss[1]) / 1024:.1f} MB (peak {int(rss[0]) / 1024:.1f} MB); store: {total} events")
sys.exit(1 if bad else 0)
PY
exit "$status"
