#!/usr/bin/env bash
# Benchmark: does the web dashboard slow down with 10 million stored events?
# Sends the requests each dashboard page makes (web/src/pages/*.jsx) to a
# core on a 10 M-event store and, as the baseline measured in the same run,
# to a core on a 10,000-event store filled the same way; prints latency per
# request and the ratio 10 M / baseline. See docs/BENCHMARKS.md.
#
#   bench/dashboard/run.sh
#
# The big store is the one bench/core_api uses (built once and cached, ~9.3
# GB, ~5 min); the small one is filled at each run (a second).
#
# Environment (defaults in brackets):
#   HONEYCOMB_BUILD_DIR   build tree holding bin/honeycomb [build]
#   BENCH_STORE           the cached big store [/var/tmp/honeycomb-bench-10m.db]
#   BENCH_STORE_EVENTS    events to fill it with when it does not exist [10000000]
#   BENCH_SMALL_EVENTS    events in the baseline store [10000]
#   BENCH_REQUESTS        sequential requests per kind [100]
#   BENCH_KIND_BUDGET     seconds one kind may take at most (then >= 5 requests) [30]
#   BENCH_KEEP            1: keep the temp dir [0]
#
# Exit status: 0 when every request was answered 200, 1 otherwise, 2 on a
# setup failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
. bench/lib.sh

build_dir="${HONEYCOMB_BUILD_DIR:-build}"
store="${BENCH_STORE:-/var/tmp/honeycomb-bench-10m.db}"
store_events="${BENCH_STORE_EVENTS:-10000000}"
small_events="${BENCH_SMALL_EVENTS:-10000}"
requests="${BENCH_REQUESTS:-100}"
budget="${BENCH_KIND_BUDGET:-30}"
honeycomb_bin="$repo/$build_dir/bin/honeycomb"
fill_bin="$repo/$build_dir/bin/honeycomb_store_fill"
[ -x "$honeycomb_bin" ] || die "$honeycomb_bin not found; run scripts/build.sh release (or set HONEYCOMB_BUILD_DIR)"
[ -f web/dist/index.html ] || echo "bench: web/dist is not built (scripts/build-web.sh): GET / measures the 'not built' page" >&2

ensure_store "$store" "$store_events" "$fill_bin" "$build_dir"
work="$(mktemp -d /tmp/honeycomb-bench-dashboard.XXXXXX)"
cleanup() {
  stop_core
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
ensure_store "$work/small.db" "$small_events" "$fill_bin" "$build_dir" 2>/dev/null

echo "bench: the dashboard's requests on $small_events events (baseline) and on $store_events;" \
  "$requests sequential requests per kind (at most ${budget} s each); $(nproc) cores;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

# One measurement per store, as JSON lines {kind, p50, p99, max, errors}.
measure() {
  local which="$1" db="$2"
  start_core_on_store "$honeycomb_bin" "$db" "$work/$which"
  python3 - "$api_port" "$token" "$db" "$requests" "$budget" >"$work/$which.jsonl" <<'PY'
import http.client, json, sqlite3, sys, time, urllib.parse

port, token, store, requests, budget = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
# "Now" for the overview's windows is the store's newest event: the filler
# spreads events over the 30 days before a fixed date.
(t_max,) = db.execute("SELECT max(event_us) FROM events").fetchone()
recent = [r[0] for r in db.execute("SELECT src_ip FROM events ORDER BY id DESC LIMIT 2000")]
db.close()
busiest = max(set(recent), key=recent.count)
rare = []
try:
    rare = [l.split("=", 1)[1].strip() for l in open(store + ".info") if l.startswith("rare_ip=")]
except OSError:
    pass
rare = rare[0] if rare else min(set(recent), key=recent.count)

def iso(us):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us / 1e6))

day, hour = iso(t_max - 86400 * 10**6), iso(t_max - 3600 * 10**6)
kinds = [
    ("GET / (the page)", "/", False),
    ("info (login)", "/api/v1/info", True),
    ("nodes + honeypots (overview, fleet)", ["/api/v1/nodes", "/api/v1/honeypots"], True),
    ("stats 24 h by hour, top 10 (overview)", f"/api/v1/stats?since={day}&bucket=3600&top=10", True),
    ("stats 1 h by minute (overview)", f"/api/v1/stats?since={hour}&bucket=60&top=1", True),
    ("newest 100 events (search)", "/api/v1/events?limit=100", True),
    ("search src + event_type", "/api/v1/events?" + urllib.parse.urlencode(
        {"src": busiest, "event_type": "cowrie.login.failed", "limit": 100}), True),
    ("attacker summary, busiest address", f"/api/v1/attackers/{busiest}", True),
    ("attacker summary, rare address", f"/api/v1/attackers/{rare}", True),
    ("attacker's 50 newest events", "/api/v1/events?" + urllib.parse.urlencode({"src": busiest, "limit": 50}), True),
]
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=300)

def get(paths, auth):
    status = 200
    t0 = time.perf_counter()
    for path in paths if isinstance(paths, list) else [paths]:
        conn.request("GET", path, headers={"Authorization": "Bearer " + token} if auth else {})
        r = conn.getresponse()
        r.read()
        status = r.status if r.status != 200 else status
    return status, (time.perf_counter() - t0) * 1000

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

for name, paths, auth in kinds:
    for _ in range(2):  # warm-up, not measured
        get(paths, auth)
    lat, errors, start = [], 0, time.perf_counter()
    while len(lat) < requests and (time.perf_counter() - start < budget or len(lat) < 5):
        status, ms = get(paths, auth)
        lat.append(ms)
        errors += status != 200
    print(json.dumps({"kind": name, "n": len(lat), "p50": pct(lat, 50), "p99": pct(lat, 99), "errors": errors}), flush=True)
PY
  stop_core
}

measure small "$work/small.db"
measure big "$store"

python3 - "$work/small.jsonl" "$work/big.jsonl" "$small_events" "$store_events" <<'PY'
import json, sys
small = [json.loads(l) for l in open(sys.argv[1])]
big = {r["kind"]: r for r in (json.loads(l) for l in open(sys.argv[2]))}
n_small, n_big = int(sys.argv[3]), int(sys.argv[4])
print(f"\n{'request':<40} {'base p50':>9} {'10M p50':>9} {'ratio':>6} {'base p99':>9} {'10M p99':>9} {'ratio':>6}  non-200")
bad = 0
for s in small:
    b = big[s["kind"]]
    bad += s["errors"] + b["errors"]
    print(f"{s['kind']:<40} {s['p50']:>9.2f} {b['p50']:>9.2f} {b['p50'] / max(s['p50'], 1e-3):>6.1f}"
          f" {s['p99']:>9.2f} {b['p99']:>9.2f} {b['p99'] / max(s['p99'], 1e-3):>6.1f}  {s['errors'] + b['errors']}")
print(f"\n(ms; base = {n_small:,} events, 10M = {n_big:,}; ratio = 10M / base, 1.0 = no slower)")
sys.exit(1 if bad else 0)
PY
