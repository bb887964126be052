#!/usr/bin/env bash
# The built-in login honeypots under attack tools (docs/BENCHMARKS.md,
# "Services"). For each of telnet, ssh and ftp:
#   1. login attempts per second under hydra (BENCH_USERS x BENCH_PASSWORDS
#      pairs, BENCH_TASKS parallel tasks), and that every attempt became one
#      <service>.login event;
#   2. the baseline in the same run: the same hydra run against the least a
#      server of that protocol can do (telnet, ftp: a Python asyncio
#      responder that refuses every login; ssh: bare libssh, one thread per
#      connection, bench/services/ssh_baseline.cpp) -- how fast hydra itself
#      can go here, so the ratio says whether the honeypot or the tool is the
#      limit;
#   3. concurrent sessions held: BENCH_SESSIONS idle connections that have
#      had their greeting (ssh: also BENCH_SESSIONS that sent their own
#      identification, which gives each a libssh session), and resident
#      memory per 1,000 of them.
#   bench/services/run.sh [telnet] [ssh] [ftp]      (default: all three)
# Environment: HONEYCOMB_BUILD_DIR (build), BENCH_USERS (20), BENCH_PASSWORDS
# (50), BENCH_TASKS (16), BENCH_SESSIONS (10000).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
build="${HONEYCOMB_BUILD_DIR:-build}"
bin="$(realpath "$build")/bin/honeycomb"
build="$(realpath "$build")"
[ -x "$bin" ] || die "no $bin: run scripts/build.sh release first"
[ -x "$build/bin/honeycomb_bench_ssh_baseline" ] || die "no $build/bin/honeycomb_bench_ssh_baseline: build it"
for tool in hydra; do command -v "$tool" >/dev/null || die "$tool missing: run scripts/install-deps.sh"; done
users="${BENCH_USERS:-20}" passwords="${BENCH_PASSWORDS:-50}" tasks="${BENCH_TASKS:-16}"
sessions="${BENCH_SESSIONS:-10000}"
services=("${@:-telnet ssh ftp}")
# shellcheck disable=SC2206
services=(${services[*]})
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do stop_process "$p" KILL; done; rm -rf "$work"; }
trap cleanup EXIT
root=(); [ "$(id -u)" = 0 ] && root=(--iamroot)
hc=("$bin" --home "$work/home" "${root[@]}")

for i in $(seq 1 "$users"); do echo "user$i"; done > "$work/users"
for i in $(seq 1 "$passwords"); do echo "pass$i"; done > "$work/passwords"
pairs=$((users * passwords))
"${hc[@]}" integration install json_file >/dev/null

hydra_rate() {  # hydra_rate SCHEME PORT -> "seconds"
  local start end
  start=$(date +%s.%N)
  hydra -L "$work/users" -P "$work/passwords" -t "$tasks" -I -s "$2" "$1://127.0.0.1" >"$work/hydra.out" 2>&1 || true
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

# Counts EVENT records in FILE, waiting (10 s at most) for the output's last
# batch to reach the file when fewer than EXPECTED are there yet.
count_events() {  # count_events FILE EVENT EXPECTED
  local n deadline=$((SECONDS + 10))
  while :; do
    n=$(grep -c "\"event_type\":\"$2\"" "$1" 2>/dev/null || true)
    if [ "${n:-0}" -ge "$3" ] || [ "$SECONDS" -ge "$deadline" ]; then echo "${n:-0}"; return; fi
    sleep 0.1
  done
}

# Starts the honeypot SERVICE with ARGS on a port the kernel picks (no race
# with the ports hydra's connections left in TIME_WAIT), its events in
# $work/SERVICE.json; sets $port (from its start-up line) and $svc.
start_service() {  # start_service SERVICE ARGS...
  local name="$1"; shift
  "${hc[@]}" service install "$name" >/dev/null 2>&1 || true  # "already installed" the second time
  "${hc[@]}" integration configure json_file "filepath=$work/$name.json" >/dev/null
  (cd "$work" && exec "${hc[@]}" service run "$name" port=0 "$@" max_per_ip=100000 \
     max_connections=$((sessions + 100)) idle_timeout=600 -i json_file) >"$work/$name.log" 2>&1 &
  svc=$!; pids+=("$svc")
  local deadline=$((SECONDS + 60))
  port=""
  while [ -z "$port" ]; do
    port=$(sed -n 's/.*Starting .* service on port: \([0-9]*\).*/\1/p' "$work/$name.log" | tail -1)
    kill -0 "$svc" 2>/dev/null || die "$name service exited during start-up: $(tail -5 "$work/$name.log")"
    [ "$SECONDS" -lt "$deadline" ] || die "$name service did not start within 60 s"
    [ -n "$port" ] || sleep 0.05
  done
}

# A Python asyncio server on a free port that refuses every login: the
# baseline for telnet and ftp. Sets $bport.
start_responder() {  # start_responder telnet|ftp
  bport=$(free_port)
  python3 - "$bport" "$1" >"$work/responder-$1.log" 2>&1 <<'PY' &
import asyncio, sys
kind = sys.argv[2]
async def telnet(reader, writer):
    writer.write(b"login: ")
    await reader.readuntil(b"\r")
    writer.write(b"Password: ")
    await reader.readuntil(b"\r")
    writer.write(b"\r\nLogin incorrect\r\n")
async def ftp(reader, writer):
    writer.write(b"220 (vsFTPd 3.0.3)\r\n")
    while True:
        line = await reader.readuntil(b"\n")
        if line.upper().startswith(b"USER"):
            writer.write(b"331 Please specify the password.\r\n")
        elif line.upper().startswith(b"PASS"):
            writer.write(b"530 Login incorrect.\r\n")
        elif line.upper().startswith(b"QUIT"):
            writer.write(b"221 Goodbye.\r\n")
            break
        else:
            writer.write(b"530 Please login with USER and PASS.\r\n")
        await writer.drain()
async def serve(reader, writer):
    try:
        await (telnet if kind == "telnet" else ftp)(reader, writer)
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
  wait_listening "$bport" "$!" "the $1 baseline responder" "$work/responder-$1.log"
}

# Holds N connections to PORT until each has received MARKER (optionally
# answering each with REPLY), then prints the service's VmRSS in KiB.
hold_sessions() {  # hold_sessions PORT N PID MARKER [REPLY]
  python3 - "$@" <<'PY'
import resource, socket, sys, time
port, n, pid, marker = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
reply = sys.argv[5].encode().decode("unicode_escape").encode() if len(sys.argv) > 5 else b""
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
socks = []
for i in range(n):
    s = socket.socket()
    # Many loopback addresses: one would hit max_per_ip in real use.
    s.bind((f"127.0.{2 + i // 250}.{1 + i % 250}", 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
deadline = time.monotonic() + 120
for s in socks:
    data = b""
    while marker not in data:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        data += s.recv(4096)
    if reply:
        s.sendall(reply)
if reply:  # the service has read every reply once the last one's effect shows
    time.sleep(2)
with open(f"/proc/{pid}/status") as f:
    print(next(line.split()[1] for line in f if line.startswith("VmRSS:")))
PY
}

report_held() {  # report_held N WHAT BEFORE AFTER
  local per
  per=$(awk -v a="$4" -v b="$3" -v n="$1" 'BEGIN { printf "%.1f", (a - b) / n * 1000 / 1024 }')
  echo "  $1 sessions held $2; resident: idle $(mb "$3") MB, with them $(mb "$4") MB: $per MB per 1,000 sessions"
}

bench_login() {  # bench_login SERVICE SCHEME -> prints; uses $port
  local secs events rate
  secs=$(hydra_rate "$2" "$port")
  events=$(count_events "$work/$1.json" "$1.login" "$pairs")
  rate=$(awk -v n="$pairs" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  echo "  honeycomb $1: $pairs attempts in ${secs}s = $rate attempts/s; $1.login events: $events (expected $pairs)"
  login_rate=$rate
}

bench_baseline() {  # bench_baseline WHAT SCHEME PORT
  local secs rate
  secs=$(hydra_rate "$2" "$3")
  rate=$(awk -v n="$pairs" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  echo "  baseline, $1: $pairs attempts in ${secs}s = $rate attempts/s"
  awk -v a="$login_rate" -v b="$rate" 'BEGIN { printf "  ratio honeycomb / baseline: %.2f\n", a / b }'
}

for service in "${services[@]}"; do
  echo "services: $service under hydra ($pairs pairs, $tasks tasks)"
  case "$service" in
    telnet)
      start_service telnet accept_after=0 max_attempts=1
      bench_login telnet telnet
      start_responder telnet
      bench_baseline "minimal responder" telnet "$bport"
      before=$(status_kib "$svc" VmRSS)
      report_held "$sessions" "at the login prompt" "$before" "$(hold_sessions "$port" "$sessions" "$svc" "login: ")"
      ;;
    ssh)
      start_service ssh accept_after=0
      bench_login ssh ssh
      bport=$(free_port)
      "$build/bin/honeycomb_bench_ssh_baseline" "$bport" >"$work/ssh-baseline.log" 2>&1 &
      pids+=("$!")
      wait_listening "$bport" "$!" "the ssh baseline" "$work/ssh-baseline.log"
      bench_baseline "bare libssh" ssh "$bport"
      stop_process "$svc" INT
      start_service ssh accept_after=0
      before=$(status_kib "$svc" VmRSS)
      report_held "$sessions" "after the banner" "$before" "$(hold_sessions "$port" "$sessions" "$svc" $'\r\n')"
      stop_process "$svc" INT
      # An identified session has three descriptors (the attacker's and a
      # socket pair to the engine): as many as the hard open-file limit allows.
      identified=$(( $(ulimit -Hn) / 3 - 100 ))
      [ "$identified" -lt "$sessions" ] || identified=$sessions
      start_service ssh accept_after=0
      before=$(status_kib "$svc" VmRSS)
      report_held "$identified" "after their identification (a libssh session each)" "$before" \
        "$(hold_sessions "$port" "$identified" "$svc" $'\r\n' 'SSH-2.0-bench\r\n')"
      ;;
    ftp)
      start_service ftp accept_after=0
      bench_login ftp ftp
      start_responder ftp
      bench_baseline "minimal responder" ftp "$bport"
      before=$(status_kib "$svc" VmRSS)
      report_held "$sessions" "after the 220 greeting" "$before" "$(hold_sessions "$port" "$sessions" "$svc" $'\r\n')"
      ;;
    *) die "unknown service $service (telnet, ssh, ftp)" ;;
  esac
  stop_process "$svc" INT
done
