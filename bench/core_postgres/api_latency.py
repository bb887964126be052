#!/usr/bin/env python3
"""The API requests of bench/core_postgres/run.sh, phase 3 (standard library only).

  api_latency.py params STORE.db [STORE.info] > params.json
      What the queries filter on, read from the SQLite store (both stores
      hold the same events: honeycomb_store_fill, same seed): time span,
      pot types, event types, pots, nodes, the busiest address among the
      newest 2,000 events, the rare addresses store_fill printed.
  api_latency.py measure PORT TOKEN params.json REQUESTS BUDGET LIMIT > LABEL.jsonl
      Sends each kind of request to a core (one keep-alive connection,
      sequential): 3 warm-ups, then REQUESTS requests or BUDGET seconds
      (at least 5). One JSON line per kind; a progress line per kind on stderr.
  api_latency.py report BASE.jsonl PG.jsonl BASE_NAME PG_NAME
      The table: p50/p95 of both and the ratios PG / base. Exit 1 when any
      request was not answered 200.

The kinds are those of bench/core_api (filtered newest-first pages) and
bench/dashboard (statistics, attacker summaries). Values vary between
requests (a random pot type, pot, node, rare address, window) from a
generator seeded per kind, so both cores get the very same requests.
"""
import http.client
import json
import random
import sqlite3
import sys
import time
import urllib.parse


def iso(us):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us / 1e6))


def params(store, info=None):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    t_min, t_max, total = db.execute("SELECT min(event_us), max(event_us), max(id) FROM events").fetchone()
    newest = db.execute(
        "SELECT pot_type, event_type, node_id, pot_id, src_ip FROM events ORDER BY id DESC LIMIT 2000").fetchall()
    db.close()
    ips = [r[4] for r in newest]
    counts = {}
    for ip in ips:
        counts[ip] = counts.get(ip, 0) + 1
    rare = []
    try:
        rare = [l.split("=", 1)[1].strip() for l in open(info or store + ".info") if l.startswith("rare_ip=")]
    except OSError:
        pass
    if not rare:  # not filled by store_fill: the least frequent among the newest
        rare = sorted(counts, key=counts.get)[:5]
    json.dump({
        "t_min": t_min, "t_max": t_max, "total": total,
        "pot_types": sorted({r[0] for r in newest}),
        "event_types": sorted({r[1] for r in newest}),
        "node_ids": sorted({r[2] for r in newest}),
        "pot_ids": sorted({r[3] for r in newest}),
        "busiest": max(counts, key=counts.get),
        "rare": rare,
    }, sys.stdout)
    print()


def kinds(p, limit):
    day_ago, hour_ago = iso(p["t_max"] - 86400 * 10**6), iso(p["t_max"] - 3600 * 10**6)

    def window(rng):
        start = rng.randrange(p["t_min"], p["t_max"] - 3600 * 10**6)
        return {"since": iso(start), "until": iso(start + 3600 * 10**6)}

    def events(make):
        return lambda rng, c: "/api/v1/events?" + urllib.parse.urlencode(dict(make(rng, c), limit=limit))

    def fixed(path):
        return lambda rng, c: path

    n = len
    return [
        ("events: newest page", events(lambda r, c: {})),
        ("events: pot_type=<one of %d>" % n(p["pot_types"]), events(lambda r, c: {"pot_type": r.choice(p["pot_types"])})),
        ("events: event_type=<one of %d>" % n(p["event_types"]),
         events(lambda r, c: {"event_type": r.choice(p["event_types"])})),
        ("events: pot=<one of %d>" % n(p["pot_ids"]), events(lambda r, c: {"pot": r.choice(p["pot_ids"])})),
        ("events: node=<one of %d>" % n(p["node_ids"]), events(lambda r, c: {"node": str(r.choice(p["node_ids"]))})),
        ("events: src=<busiest ip>", events(lambda r, c: {"src": p["busiest"]})),
        ("events: src=<rare ip>", events(lambda r, c: {"src": r.choice(p["rare"])})),
        ("events: src=10.0.0.0/8", events(lambda r, c: {"src": "10.0.0.0/8"})),
        ("events: src + event_type", events(lambda r, c: {"src": p["busiest"], "event_type": "cowrie.login.failed"})),
        ("events: since&until (1 h window)", events(lambda r, c: window(r))),
        ("events: 1 h window + pot_type", events(lambda r, c: dict(window(r), pot_type=r.choice(p["pot_types"])))),
        ("events: q=wget (free text)", events(lambda r, c: {"q": "wget"})),
        ("events: q=<rare ip> (free text)", events(lambda r, c: {"q": r.choice(p["rare"])})),
        ("events: event_type, page 2 (cursor)", events(lambda r, c: r.choice(c) if c else {})),
        ("stats: 24 h by hour, top 10", fixed(f"/api/v1/stats?since={day_ago}&bucket=3600&top=10")),
        ("stats: 1 h by minute", fixed(f"/api/v1/stats?since={hour_ago}&bucket=60&top=1")),
        ("attackers/<busiest ip>", fixed(f"/api/v1/attackers/{p['busiest']}")),
        ("attackers/<rare ip>", lambda r, c: f"/api/v1/attackers/{r.choice(p['rare'])}"),
    ]


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def measure(port, token, params_file, requests, budget, limit):
    p = json.load(open(params_file))
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=300)
    headers = {"Authorization": "Bearer " + token}

    def get(path):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        return r.status, body, (time.perf_counter() - t0) * 1000

    # A page-2 cursor per event type (fetched once, not measured).
    cursors = []
    for et in p["event_types"]:
        s, b, _ = get("/api/v1/events?" + urllib.parse.urlencode({"event_type": et, "limit": limit}))
        if s == 200 and json.loads(b).get("next_cursor"):
            cursors.append({"event_type": et, "cursor": json.loads(b)["next_cursor"]})
    for i, (name, make) in enumerate(kinds(p, limit)):
        rng = random.Random(1000 + i)
        for _ in range(3):  # warm-up, not measured
            get(make(rng, cursors))
        rng = random.Random(i)
        lat, errors, partial, start = [], {}, 0, time.perf_counter()
        while len(lat) < requests and (time.perf_counter() - start < budget or len(lat) < 5):
            s, b, ms = get(make(rng, cursors))
            lat.append(ms)
            if s != 200:
                errors[s] = errors.get(s, 0) + 1
            elif name.startswith("events") and json.loads(b).get("partial"):
                partial += 1
        row = {"kind": name, "n": len(lat), "p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99),
               "max": max(lat), "errors": errors, "partial": partial, "capped": len(lat) < requests}
        print(json.dumps(row), flush=True)
        print(f"bench:   {name:<40} n={len(lat):<4} p50 {row['p50']:8.2f} ms  p95 {row['p95']:8.2f} ms"
              + (f"  non-200 {errors}" if errors else ""), file=sys.stderr, flush=True)


def report(base_file, pg_file, base_name, pg_name):
    base = [json.loads(l) for l in open(base_file)]
    pg = {r["kind"]: r for r in (json.loads(l) for l in open(pg_file))}
    w = 40
    print(f"\n{'request':<{w}} {base_name + ' p50':>11} {pg_name + ' p50':>8} {'ratio':>6}"
          f" {base_name + ' p95':>11} {pg_name + ' p95':>8} {'ratio':>6}  non-200  partial")
    bad = 0
    for b in base:
        g = pg.get(b["kind"])
        if g is None:
            continue
        nb = sum(b["errors"].values()) + sum(g["errors"].values())
        bad += nb
        capped = " (time budget)" if b["capped"] or g["capped"] else ""
        print(f"{b['kind']:<{w}} {b['p50']:>11.2f} {g['p50']:>8.2f} {g['p50'] / max(b['p50'], 1e-3):>6.2f}"
              f" {b['p95']:>11.2f} {g['p95']:>8.2f} {g['p95'] / max(b['p95'], 1e-3):>6.2f}  {nb:>7}"
              f"  {b['partial']}/{g['partial']}{capped}")
    print(f"\n(ms; ratio = {pg_name} / {base_name}, below 1 = PostgreSQL faster; partial = {base_name}/{pg_name}"
          " answers cut at the free-text scan budget)")
    return 1 if bad else 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["params"] and len(a) in (2, 3):
        params(*a[1:])
    elif a[:1] == ["measure"] and len(a) == 7:
        measure(a[1], a[2], a[3], int(a[4]), float(a[5]), int(a[6]))
    elif a[:1] == ["report"] and len(a) == 5:
        sys.exit(report(*a[1:]))
    else:
        sys.exit(__doc__)
