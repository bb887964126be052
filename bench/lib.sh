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

# Makes sure STORE exists: fills it with EVENTS events through the project's
# storage API (FILL_BIN, bin/honeycomb_store_fill; built in BUILD_DIR when
# missing) into STORE.partial, renamed when complete, so an interrupted fill
# is never taken for a store. STORE.info keeps rare addresses for queries.
#   ensure_store STORE EVENTS FILL_BIN BUILD_DIR
ensure_store() {
  local store="$1" events="$2" fill_bin="$3" build_dir="$4"
  [ -f "$store" ] && return 0
  if [ ! -x "$fill_bin" ]; then
    cmake --build "$build_dir" -j2 --target honeycomb_store_fill >&2 || die "cannot build honeycomb_store_fill"
  fi
  echo "bench: filling $store with $events events (cached for later runs)..." >&2
  rm -f "$store.partial" "$store.partial-wal" "$store.partial-shm"
  "$fill_bin" --db "$store.partial" --events "$events" --print-rare 5 >"$store.info.partial" ||
    die "store_fill failed"
  local s
  for s in "" -wal -shm; do if [ -f "$store.partial$s" ]; then mv "$store.partial$s" "$store$s"; fi; done
  mv "$store.info.partial" "$store.info"
}

# Starts `honeycomb core` on STORE with a temp home under WORK, no API rate
# limit, loopback ports picked by the kernel; creates an API token for the
# run (a reused store already holds tokens, so the core makes no first one).
# Sets core_pid, api_port, token, core_hc (the command prefix) and
# core_config; stop it with stop_core.
#   start_core_on_store HONEYCOMB_BIN STORE WORK
start_core_on_store() {
  local bin="$1" store="$2" work="$3"
  mkdir -p "$work"
  core_config="$work/core.yml"
  printf 'database: %s\napi_rate_per_second: 0\n' "$store" >"$core_config"
  core_hc=("$bin" --home "$work/home")
  if [ "$(id -u)" -eq 0 ]; then core_hc+=(--iamroot); fi
  core_token_name="bench-$$-$RANDOM"
  token="$("${core_hc[@]}" core --config "$core_config" token create "$core_token_name" 2>&1 | tail -1 | tr -d '[:space:]')"
  case "$token" in hc_*) ;; *) die "cannot create an API token: $token" ;; esac
  api_port="$(free_port)"
  "${core_hc[@]}" core --config "$core_config" --node-listen "127.0.0.1:$(free_port)" \
    --api-listen "127.0.0.1:$api_port" --ws-listen "127.0.0.1:$(free_port)" >"$work/core.log" 2>&1 &
  core_pid=$!
  # A store of an older schema is migrated before the core listens (minutes on 10 M events).
  wait_listening "$api_port" "$core_pid" "the core" "$work/core.log" 900
}

# Stops the core of start_core_on_store and revokes the run's token.
stop_core() {
  stop_process "${core_pid:-}" INT
  core_pid=""
  if [ -n "${core_token_name:-}" ]; then
    "${core_hc[@]}" core --config "$core_config" token revoke "$core_token_name" >/dev/null 2>&1 || true
    core_token_name=""
  fi
}
