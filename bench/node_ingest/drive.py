"""Drives bench/node_ingest/run.sh: starts nodes (and a core), sends load,
waits on the node's statistics file (rewritten every 20 ms here) and the
core's metrics, and prints figures. No timed assertions: it measures."""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

LINE_BYTES = 200


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_lines(count, start=0):
    """`count` event lines of LINE_BYTES bytes each (Cowrie-like fields)."""
    out = []
    for i in range(start, start + count):
        line = ('{"eventid":"cowrie.login.failed","pot_id":"bench-01","pot_type":"cowrie",'
                f'"src_ip":"198.51.{(i >> 8) & 255}.{i & 255}","src_port":{1024 + i % 60000},'
                f'"username":"root","password":"123456","n":{i},"pad":"')
        out.append(line + "x" * (LINE_BYTES - len(line) - 3) + '"}\n')
    return "".join(out).encode()


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def rss_kib(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.005)
    raise SystemExit(f"bench: timed out waiting for {what}")


class Proc:
    def __init__(self, args, home, name):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = open(self.home / f"{name}.out", "w")
        argv = [args.bin, "--home", str(self.home)] + (["--iamroot"] if os.geteuid() == 0 else [])
        self.argv = argv

    def spawn(self, *extra):
        self.proc = subprocess.Popen(self.argv + [str(a) for a in extra], stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            self.proc.wait(timeout=30)


class Node(Proc):
    def __init__(self, args, home, core_port=None, extra_config="", listen_host="127.0.0.1"):
        super().__init__(args, home, "node")
        self.port = free_port()
        cfg = self.home / "node.yml"
        cfg.write_text("stats_interval_ms: 20\nspool_max_mb: 8192\n" + extra_config)
        self.spawn("node", "--config", cfg, "--event-listen", f"{listen_host}:{self.port}",
                   "--core", f"127.0.0.1:{core_port}" if core_port else "none")
        wait_for(self.listening, 20, "the node's event port")

    def listening(self):
        return listening(self.port)

    def stats(self):
        try:
            return json.loads((self.home / "node" / "stats.json").read_text())
        except (OSError, ValueError):
            return {}

    def events(self):
        return self.stats().get("events", 0)


def baseline_copy(blob, work):
    """The same bytes through a loopback socket into a file, by a plain
    reader: what any receiver that parses nothing achieves here."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    done = threading.Event()

    def sink():
        conn, _ = srv.accept()
        buf = bytearray(256 * 1024)
        view = memoryview(buf)
        with open(Path(work) / "baseline.out", "wb") as f:
            while True:
                n = conn.recv_into(buf)
                if not n:
                    break
                f.write(view[:n])
        conn.close()
        done.set()

    t = threading.Thread(target=sink)
    t.start()
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(blob)
    done.wait()
    elapsed = time.monotonic() - t0
    t.join()
    srv.close()
    os.unlink(Path(work) / "baseline.out")
    return elapsed


def send_persistent(node, blob, connections, expect, sample_rss):
    chunks = [blob[i * len(blob) // connections:(i + 1) * len(blob) // connections] for i in range(connections)]
    # Cut on line boundaries.
    fixed, carry = [], b""
    for c in chunks:
        c = carry + c
        cut = c.rfind(b"\n") + 1
        fixed.append(c[:cut])
        carry = c[cut:]
    fixed[-1] += carry
    before = node.events()
    peak = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(node.proc.pid))
            time.sleep(0.05)

    w = threading.Thread(target=watch)
    w.start()
    t0 = time.monotonic()

    def send(data):
        with socket.create_connection(("127.0.0.1", node.port)) as s:
            s.sendall(data)

    threads = [threading.Thread(target=send, args=(d,)) for d in fixed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: node.events() - before >= expect, 600, f"{expect} events in the spool")
    elapsed = time.monotonic() - t0
    stop.set()
    w.join()
    return elapsed, peak[0]


def listen_overflows():
    """The kernel's count of connections dropped because a listen queue was
    full (TcpExt ListenOverflows): each costs its client a SYN resent 1 s
    later, which dominates a phase of a second or so."""
    rows = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines() if line.startswith("TcpExt:")]
    return int(dict(zip(rows[0], rows[1])).get("ListenOverflows", 0))


def per_event(args, work):
    """One connection per event, in rounds that alternate between the
    baseline receiver and one node, each round sent by the same clients.
    Rounds of ~20,000 connections spread over several loopback destination
    addresses: every connection leaves its 4-tuple in TIME_WAIT for 60 s, and
    one (source, destination) pair has 28,232 ephemeral ports, so a single
    destination limits the clients' connect() long before the receiver
    (docs/BENCHMARKS.md). The clients run at a lower priority (nice 5, as
    the node runs its pots: pot_nice): two of them keep both CPUs busy, and
    a receiver left a third of the machine falls behind until its listen
    queue (4096) overflows; every overflow costs a client a SYN resent a
    second later, and the round's figure measures that second. Prints the
    median round of each receiver."""
    procs = max(args.per_event_clients, 1)
    rounds = max(args.per_event_rounds, 1)
    share = args.per_event // (procs * rounds)
    per_round = share * procs
    addresses = str(args.per_event_addresses)
    # 127.0.0.2 and up reach a listener on 0.0.0.0, not one on 127.0.0.1.
    host = "0.0.0.0" if args.per_event_addresses > 1 else "127.0.0.1"
    nice = ["nice", "-n", str(args.per_event_nice)] if args.per_event_nice else []

    def send(port):
        clients = [subprocess.Popen(nice + [args.per_event_bin, str(port), str(share), addresses], stdout=subprocess.PIPE)
                   for _ in range(procs)]
        return sum(int(c.communicate()[0] or 0) for c in clients)

    node = Node(args, work / "per-event", listen_host=host)
    base_rates, node_rates = [], []
    base_failed = node_failed = base_overflows = node_overflows = 0
    for _ in range(rounds):
        # Baseline: a receiver that only accepts, reads and closes
        # (honeycomb_bench_per_event serve); it times itself from its first accept.
        overflows = listen_overflows()
        server = subprocess.Popen([args.per_event_bin, "serve", str(per_round), addresses], stdout=subprocess.PIPE,
                                  text=True)
        base_port = int(server.stdout.readline())
        base_failed += send(base_port)
        base_rates.append(per_round / float(server.communicate(timeout=600)[0]))
        base_overflows += listen_overflows() - overflows

        overflows = listen_overflows()
        expected = node.events() + per_round
        t0 = time.monotonic()
        node_failed += send(node.port)
        wait_for(lambda: node.events() >= expected, 600, "per-event events")
        node_rates.append(per_round / (time.monotonic() - t0))
        node_overflows += listen_overflows() - overflows

    base_rate = sorted(base_rates)[rounds // 2]
    rate = sorted(node_rates)[rounds // 2]
    label = f"{rounds} rounds of {per_round:,}, {procs} clients at nice {args.per_event_nice}, {addresses} addresses"
    print(f"  {'baseline, one connection per event:':<42}{base_rate:>12,.0f} events/s  (accept, read, close; "
          f"median of {label}; {base_failed} sends failed, {base_overflows} listen overflows)", flush=True)
    print(f"  {'one connection per event:':<42}{rate:>12,.0f} events/s  ({rate / base_rate:.2f} x baseline; "
          f"rounds {', '.join(f'{r:,.0f}' for r in node_rates)}; {node_failed} sends failed, "
          f"{node_overflows} listen overflows)", flush=True)
    ok = node_failed == 0 and node.events() == per_round * rounds
    node.stop()
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--per-event-bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--per-event", type=int, default=60_000)
    ap.add_argument("--per-event-clients", type=int, default=2)
    ap.add_argument("--per-event-rounds", type=int, default=3)
    ap.add_argument("--per-event-addresses", type=int, default=8)
    ap.add_argument("--per-event-nice", type=int, default=5)
    ap.add_argument("--e2e-events", type=int, default=300_000)
    args = ap.parse_args()
    if args.e2e_events > args.events:
        # The end-to-end run sends the first e2e_events of the lines made for
        # the persistent-connection runs.
        ap.error(f"--e2e-events ({args.e2e_events}) must be at most --events ({args.events}); "
                 "raise BENCH_EVENTS as well")
    work = Path(args.work)
    ok = True
    n = args.events
    print(f"node_ingest: {n} events of {LINE_BYTES} bytes; {os.cpu_count()} CPUs", flush=True)
    blob = make_lines(n)

    base = baseline_copy(blob, work)
    base_rate = n / base
    print(f"  baseline (socket -> file, plain reader):   {base_rate:>12,.0f} lines/s", flush=True)

    node = Node(args, work / "idle")
    # 5 s: the node releases its start-up code 3 s after start (src/common/resident_code.hpp).
    time.sleep(5)  # what an idle node settles at: nothing to wait for but time
    idle_kib = rss_kib(node.proc.pid)
    node.stop()

    for label, conns in (("1 persistent connection", 1), ("100 persistent connections", 100)):
        node = Node(args, work / f"c{conns}")
        elapsed, peak = send_persistent(node, blob, conns, n, True)
        st = node.stats()
        rate = n / elapsed
        print(f"  {label + ':':<42}{rate:>12,.0f} events/s  ({rate / base_rate:.2f} x baseline), "
              f"peak RSS {peak / 1024:.1f} MB, malformed {st.get('malformed')}", flush=True)
        ok &= st.get("events") == n and st.get("malformed") == 0
        node.stop()

    ok &= per_event(args, work)

    # End to end: node -> Protocol v2 -> core -> SQLite, zero loss.
    m = args.e2e_events
    core = Proc(args, work / "core", "core")
    ports = [free_port() for _ in range(3)]
    # node_auth open: the node speaks plain TCP without enrolling, as before
    # the core required certificates (bench/core_ingest does the same).
    core_config = work / "core.yml"
    core_config.write_text("node_auth: open\n")
    core.spawn("core", "--config", core_config, "--node-listen", f"127.0.0.1:{ports[0]}",
               "--api-listen", f"127.0.0.1:{ports[1]}", "--ws-listen", f"127.0.0.1:{ports[2]}")
    token_file = work / "core" / "core" / "api-token"
    wait_for(lambda: token_file.exists() and listening(ports[1]), 30, "the core")
    token = token_file.read_text().strip()

    # One keep-alive connection, asked every 20 ms: a new connection every
    # 5 ms took CPU from the node and the core under test.
    metrics = http.client.HTTPConnection("127.0.0.1", ports[1], timeout=30)

    def stored():
        time.sleep(0.015)
        metrics.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
        with metrics.getresponse() as r:
            for line in r.read().decode().splitlines():
                if line.startswith("honeycomb_events_stored_total "):
                    return int(float(line.split()[1]))
        return 0

    node = Node(args, work / "e2e", core_port=ports[0])
    wait_for(lambda: node.stats().get("core", {}).get("connected"), 30, "the node's registration")
    e2e_blob = blob[:m * LINE_BYTES]
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        s.sendall(e2e_blob)
    wait_for(lambda: stored() >= m, 900, f"{m} events stored by the core")
    elapsed = time.monotonic() - t0
    wait_for(lambda: node.stats().get("spool", {}).get("pending_events") == 0, 60, "the node's spool to empty")
    final = stored()
    print(f"  {'end to end into the core store:':<42}{m / elapsed:>12,.0f} events/s  "
          f"({final} stored of {m} sent)", flush=True)
    ok &= final == m
    node.stop()
    core.stop()
    print(f"  idle node resident memory:                {idle_kib / 1024:>9.1f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
