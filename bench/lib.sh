# Shell helpers shared by the bench/*/run.sh scripts. Source it after
# `cd` to the repository root:   . bench/lib.sh
# shellcheck shell=bash

die() { echo "bench: $*" >&2; exit 2; }

# A loopback port nobody listens on (the kernel picks it; tiny race accepted).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Polls until something accepts connections on PORT, with a deadline (5th
# argument, seconds, default 20); fails early if PID exits. The probe connects
# and closes without a request, so it is neither logged nor alerted.
#   wait_listening PORT PID WHAT LOGFILE [SECONDS]
wait_listening() {
  local port="$1" pid="$2" what="$3" log="$4" limit="${5:-20}"
  local deadline=$((SECONDS + limit))
  while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "$what exited during start-up: $(tail -5 "$log" 2>/dev/null)"
    [ "$SECONDS" -lt "$deadline" ] || die "$what did not listen on port $port within $limit s"
    sleep 0.05
  done
}

# Sends SIGNAL (default INT) to PID if it still runs, and reaps it.
#   stop_process PID [SIGNAL]
stop_process() {
  local pid="$1" sig="${2:-INT}"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}

# A /proc/PID/status field in KiB (VmRSS, VmHWM, RssAnon, RssFile…).
#   status_kib PID FIELD
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# KiB -> MB with one decimal.
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
