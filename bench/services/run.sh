#!/usr/bin/env bash
# The built-in login honeypots under attack tools (docs/BENCHMARKS.md,
# "Services"). For telnet (ssh and ftp join when they land):
#   1. login attempts per second under hydra (BENCH_USERS x BENCH_PASSWORDS
#      pairs, BENCH_TASKS parallel tasks), and that every attempt became one
#      telnet.login event;
#   2. the baseline in the same run: the same hydra run against the least a
#      telnet server can do (a Python asyncio responder: prompt, password
#      prompt, "Login incorrect", close) -- how fast hydra itself can go here,
#      so the ratio says whether the honeypot or the tool is the limit;
#   3. concurrent sessions held: BENCH_SESSIONS idle connections at the login
#      prompt, and resident memory per 1,000 of them.
#   bench/services/run.sh
# Environment: HONEYCOMB_BUILD_DIR (build), BENCH_USERS (20), BENCH_PASSWORDS
# (50), BENCH_TASKS (16), BENCH_SESSIONS (10000).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
bin="${HONEYCOMB_BUILD_DIR:-build}/bin/honeycomb"
[ -x "$bin" ] || die "no $bin: run scripts/build.sh release first"
for tool in hydra; do command -v "$tool" >/dev/null || die "$tool missing: run scripts/install-deps.sh"; done
users="${BENCH_USERS:-20}" passwords="${BENCH_PASSWORDS:-50}" tasks="${BENCH_TASKS:-16}"
sessions="${BENCH_SESSIONS:-10000}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do stop_process "$p" KILL; done; rm -rf "$work"; }
trap cleanup EXIT
root=(); [ "$(id -u)" = 0 ] && root=(--iamroot)
hc=("$bin" --home "$work/home" "${root[@]}")

for i in $(seq 1 "$users"); do echo "user$i"; done > "$work/users"
for i in $(seq 1 "$passwords"); do echo "pass$i"; done > "$work/passwords"
pairs=$((users * passwords))

"${hc[@]}" service install telnet >/dev/null
"${hc[@]}" integration install json_file >/dev/null
"${hc[@]}" integration configure json_file "filepath=$work/alerts.json" >/dev/null
port=$(free_port)
"${hc[@]}" service run telnet "port=$port" accept_after=0 max_attempts=1 max_per_ip=100000 \
  max_connections=$((sessions + 100)) idle_timeout=600 -i json_file >"$work/telnet.log" 2>&1 &
svc=$!; pids+=("$svc")
wait_listening "$port" "$svc" "telnet service" "$work/telnet.log"

hydra_rate() {  # hydra_rate PORT USERS PASSWORDS -> "seconds"
  local start end
  start=$(date +%s.%N)
  hydra -L "$2" -P "$3" -t "$tasks" -I -s "$1" telnet://127.0.0.1 >"$work/hydra.out" 2>&1 || true
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

echo "services: telnet under hydra ($pairs pairs, $tasks tasks)"
secs=$(hydra_rate "$port" "$work/users" "$work/passwords")
sleep 1  # let the json_file output flush its last batch (a bench, not a test)
events=$(grep -c '"event_type":"telnet.login"' "$work/alerts.json" || true)
rate=$(awk -v n="$pairs" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
echo "  honeycomb telnet: $pairs attempts in ${secs}s = $rate attempts/s; telnet.login events: $events (expected $pairs)"

# Baseline: hydra's own ceiling against a minimal responder.
bport=$(free_port)
python3 - "$bport" >"$work/responder.log" 2>&1 <<'PY' &
import asyncio, sys
async def serve(reader, writer):
    try:
        writer.write(b"login: ")
        await reader.readuntil(b"\r")
        writer.write(b"Password: ")
        await reader.readuntil(b"\r")
        writer.write(b"\r\nLogin incorrect\r\n")
        await writer.drain()
    except Exception:
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
pids+=("$!")
wait_listening "$bport" "$!" "the baseline responder" "$work/responder.log"
bsecs=$(hydra_rate "$bport" "$work/users" "$work/passwords")
brate=$(awk -v n="$pairs" -v s="$bsecs" 'BEGIN { printf "%.0f", n / s }')
echo "  baseline, minimal responder: $pairs attempts in ${bsecs}s = $brate attempts/s"
awk -v a="$rate" -v b="$brate" 'BEGIN { printf "  ratio honeycomb / baseline: %.2f\n", a / b }'

# Sessions held: idle connections at the login prompt, from many loopback
# addresses (one address would hit max_per_ip in real use).
before=$(status_kib "$svc" VmRSS)
after=$(python3 - "$port" "$sessions" "$svc" <<'PY'
import resource, socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
socks = []
for i in range(n):
    s = socket.socket()
    s.bind((f"127.0.{2 + i // 250}.{1 + i % 250}", 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
# Every session has had its greeting and its prompt.
deadline = time.monotonic() + 120
for s in socks:
    data = b""
    while b"login: " not in data:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        data += s.recv(4096)
with open(f"/proc/{pid}/status") as f:
    print(next(line.split()[1] for line in f if line.startswith("VmRSS:")))
PY
)
per=$(awk -v a="$after" -v b="$before" -v n="$sessions" 'BEGIN { printf "%.1f", (a - b) / n * 1000 / 1024 }')
echo "  $sessions sessions held at the login prompt; resident: idle $(mb "$before") MB, with them $(mb "$after") MB: $per MB per 1,000 sessions"
