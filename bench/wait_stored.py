#!/usr/bin/env python3
"""Waits until cores have stored (or counted as duplicates) their events.

Polls each core's /metrics every --interval seconds on one keep-alive
connection per core and prints, per core, `done_us.I=<unix us>` when its
honeycomb_events_stored_total + honeycomb_events_duplicates_total reached
its total. Why not curl in a shell loop: starting curl and awk 20 times a
second took about a quarter of this 2-vCPU machine's CPU during
bench/core_ingest, CPU the core under test then did not get.

    wait_stored.py --deadline S [--interval 0.02] [--watch PID ...] \
        --core PORT TOKEN TOTAL [--core PORT TOKEN TOTAL ...]

Exit status: 0 when every core reached its total; 1 at the deadline (what
was stored is printed as `stored.I=`); 2 when a watched process exited.
Progress goes to stderr every 5 s.
"""
import argparse
import http.client
import os
import sys
import time


def stored_of(conn, token):
    conn.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    body = response.read().decode("utf-8", "replace")
    if response.status != 200:
        raise OSError(f"/metrics answered {response.status}")
    n = 0
    for line in body.splitlines():
        key, _, value = line.partition(" ")
        if key in ("honeycomb_events_stored_total", "honeycomb_events_duplicates_total"):
            n += int(float(value))
    return n


def alive(pid):
    """True when `pid` exists and is not a zombie (an exited child not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--core", nargs=3, action="append", metavar=("PORT", "TOKEN", "TOTAL"), required=True)
    ap.add_argument("--deadline", type=float, required=True, help="seconds")
    ap.add_argument("--interval", type=float, default=0.02, help="seconds between polls")
    ap.add_argument("--watch", type=int, nargs="*", default=[], help="pids that must stay alive")
    args = ap.parse_args()
    cores = [(int(p), t, int(n)) for p, t, n in args.core]
    conns = [None] * len(cores)
    done = [None] * len(cores)
    last = [0] * len(cores)
    start = time.monotonic()
    next_report = start + 5
    while True:
        for i, (port, token, total) in enumerate(cores):
            if done[i] is not None:
                continue
            try:
                if conns[i] is None:
                    conns[i] = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                last[i] = stored_of(conns[i], token)
            except (OSError, http.client.HTTPException):
                conns[i] = None  # the core may be busy or restarting: ask again next time
                continue
            if last[i] >= total:
                done[i] = time.time_ns() // 1000
                print(f"done_us.{i}={done[i]}", flush=True)
        if all(d is not None for d in done):
            return 0
        for pid in args.watch:
            if not alive(pid):
                print(f"wait_stored: process {pid} exited", file=sys.stderr)
                return 2
        now = time.monotonic()
        if now - start >= args.deadline:
            for i in range(len(cores)):
                print(f"stored.{i}={last[i]}")
            return 1
        if now >= next_report:
            print(f"wait_stored: {sum(last)} of {sum(c[2] for c in cores)} stored after {now - start:.0f} s",
                  file=sys.stderr)
            next_report = now + 5
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
