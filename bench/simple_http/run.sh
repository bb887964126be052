#!/usr/bin/env bash
# Benchmark: simple_http (with json_file and the debug log) against nginx
# serving the same 615-byte page with its access log on, both loaded by wrk
# on this machine. See docs/BENCHMARKS.md.
#
#   scripts/build.sh release && bench/simple_http/run.sh
#
# Environment (defaults in brackets):
#   HONEYCOMB_BUILD_DIR   build tree holding bin/honeycomb [build]
#   BENCH_THREADS         wrk threads [2]
#   BENCH_CONNECTIONS     wrk connections [64]
#   BENCH_DURATION        wrk duration of one measured run [10s]
#   BENCH_WARMUP          wrk warm-up run per server [2s]
#   BENCH_ROUNDS          measured runs per server, alternating; the median
#                         requests/s is reported [3]
#   BENCH_INSTALL_DEPS    1: run scripts/install-deps.sh first [0]
#   BENCH_KEEP            1: keep the temp dir (logs, alerts) for inspection [0]
#
# Exit status: 0 when every request honeycomb served was alerted exactly once
# (json_file and debug log), 1 on a mismatch, 2 on a setup failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

build_dir="${HONEYCOMB_BUILD_DIR:-build}"
threads="${BENCH_THREADS:-2}"
connections="${BENCH_CONNECTIONS:-64}"
duration="${BENCH_DURATION:-10s}"
warmup="${BENCH_WARMUP:-2s}"
rounds="${BENCH_ROUNDS:-3}"

if [ "${BENCH_INSTALL_DEPS:-0}" = 1 ]; then
  scripts/install-deps.sh
fi

. bench/lib.sh

honeycomb_bin="$repo/$build_dir/bin/honeycomb"
[ -x "$honeycomb_bin" ] || die "$honeycomb_bin not found; run scripts/build.sh release (or set HONEYCOMB_BUILD_DIR)"
command -v wrk >/dev/null || die "wrk not found; run scripts/install-deps.sh"
nginx_bin="$(command -v nginx || true)"
[ -n "$nginx_bin" ] || nginx_bin=/usr/sbin/nginx
[ -x "$nginx_bin" ] || die "nginx not found; run scripts/install-deps.sh"
command -v python3 >/dev/null || die "python3 not found; run scripts/install-deps.sh"

work="$(mktemp -d /tmp/honeycomb-bench.XXXXXX)"
# nginx workers drop to an unprivileged user when started as root: let them
# read the page.
chmod 755 "$work"
nginx_pid=""
honeycomb_pid=""
cleanup() {
  stop_process "$honeycomb_pid" INT
  stop_process "$nginx_pid" QUIT
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT




# Runs wrk; sets wrk_rps, wrk_requests and wrk_errors.
run_wrk() {
  local url="$1" secs="$2" out
  out="$(wrk -t"$threads" -c"$connections" -d"$secs" --latency "$url" 2>&1)" || die "wrk failed: $out"
  wrk_rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
  wrk_requests="$(awk '/ requests in / { print $1 }' <<<"$out")"
  wrk_errors="$(awk '/Socket errors:|Non-2xx/ { printf "%s ", $0 }' <<<"$out")"
  # wrk prints latencies with a unit (us, ms, s): convert to ms.
  wrk_p99="$(awk '$1 == "99%" { v = $2 + 0; u = $2; gsub(/[0-9.]/, "", u);
    if (u == "us") { v /= 1000 } else if (u == "s") { v *= 1000 } else if (u == "m") { v *= 60000 }
    printf "%.2f", v }' <<<"$out")"
  if [ -z "$wrk_rps" ] || [ -z "$wrk_requests" ]; then die "cannot parse wrk output: $out"; fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# --- the page: simple_http's welcome page, byte for byte ---------------------
mkdir -p "$work/nginx/html" "$work/nginx/tmp" "$work/nginx/logs"
cat >"$work/nginx/html/index.html" <<'EOF'
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
EOF
chmod -R a+rX "$work/nginx"

# --- nginx ---------------------------------------------------------------------
nginx_port="$(free_port)"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  types { text/html html; }
  default_type text/html;
  # Every request logged, as honeycomb alerts every request; buffered like
  # honeycomb's outputs so neither pays a write() per request.
  access_log $work/nginx/logs/access.log combined buffer=64k flush=1s;
  # honeycomb never closes a busy keep-alive connection; neither does nginx here.
  keepalive_requests 1000000;
  # Serve the page without an open()/fstat()/close() per request: the
  # strictest baseline, as honeycomb serves it from memory.
  open_file_cache max=16 inactive=60s;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/nginx/html;
    index index.html;
  }
}
EOF
"$nginx_bin" -e "$work/nginx/logs/error.log" -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' \
  >"$work/nginx/logs/stdout.log" 2>&1 &
nginx_pid=$!
wait_listening "$nginx_port" "$nginx_pid" nginx "$work/nginx/logs/error.log"

# --- honeycomb -----------------------------------------------------------------
home="$work/home"
alerts="$work/alerts.json"
hc=("$honeycomb_bin" --home "$home")
if [ "$(id -u)" -eq 0 ]; then hc+=(--iamroot); fi
"${hc[@]}" service install simple_http >"$work/setup.log" 2>&1 || die "service install failed: $(cat "$work/setup.log")"
"${hc[@]}" integration install json_file >>"$work/setup.log" 2>&1 || die "integration install failed"
# The default rotation (100 MiB) stays on, as deployed; enough backups are
# kept that no alert file is deleted before it is counted.
"${hc[@]}" integration configure json_file filepath="$alerts" max_size_mb=100 backup_count=1000 \
  >>"$work/setup.log" 2>&1 ||
  die "integration configure failed"
hc_port="$(free_port)"
"${hc[@]}" service run simple_http port="$hc_port" threading=true -i json_file >"$work/honeycomb.log" 2>&1 &
honeycomb_pid=$!
wait_listening "$hc_port" "$honeycomb_pid" honeycomb "$work/honeycomb.log"
idle_rss="$(status_kib "$honeycomb_pid" VmRSS)"
idle_anon="$(status_kib "$honeycomb_pid" RssAnon)"
idle_file="$(status_kib "$honeycomb_pid" RssFile)"
idle_threads="$(status_kib "$honeycomb_pid" Threads)"

page_bytes() { python3 - "$1" <<'PY'
import sys, urllib.request
print(len(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/").read()))
PY
}
nginx_page="$(page_bytes "$nginx_port")"
hc_page="$(page_bytes "$hc_port")"
[ "$nginx_page" = "$hc_page" ] || die "pages differ in size: nginx $nginx_page, honeycomb $hc_page bytes"

echo "bench: wrk -t$threads -c$connections -d$duration, $rounds round(s), warm-up $warmup; $(nproc) cores: $(
  awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"

# --- load ----------------------------------------------------------------------
nginx_total=0
hc_total=0
nginx_rps_all=()
hc_rps_all=()
hc_p99_all=()
nginx_p99_all=()
run_wrk "http://127.0.0.1:$nginx_port/" "$warmup"
nginx_total=$((nginx_total + wrk_requests))
run_wrk "http://127.0.0.1:$hc_port/" "$warmup"
hc_total=$((hc_total + wrk_requests))
for ((r = 1; r <= rounds; r++)); do
  run_wrk "http://127.0.0.1:$nginx_port/" "$duration"
  nginx_total=$((nginx_total + wrk_requests))
  nginx_rps_all+=("$wrk_rps")
  nginx_p99_all+=("$wrk_p99")
  echo "  round $r nginx:     $wrk_rps req/s  p99 $wrk_p99  $wrk_errors"
  run_wrk "http://127.0.0.1:$hc_port/" "$duration"
  hc_total=$((hc_total + wrk_requests))
  hc_rps_all+=("$wrk_rps")
  hc_p99_all+=("$wrk_p99")
  echo "  round $r honeycomb: $wrk_rps req/s  p99 $wrk_p99  $wrk_errors"
done
loaded_rss="$(status_kib "$honeycomb_pid" VmRSS)"
loaded_anon="$(status_kib "$honeycomb_pid" RssAnon)"

# --- stop, then count ------------------------------------------------------------
kill -INT "$honeycomb_pid"
hc_status=0
wait "$honeycomb_pid" || hc_status=$?
honeycomb_pid=""
kill -QUIT "$nginx_pid"
wait "$nginx_pid" || true
nginx_pid=""

nginx_served="$(wc -l <"$work/nginx/logs/access.log")"
# The pipeline's own tally, logged at exit: one accepted alert per request
# simple_http answered, plus what it dropped or failed to deliver.
summary="$(grep -o 'alerts: [0-9]* accepted, [0-9]* dropped (unknown type), [0-9]* dropped (queue full), [0-9]* failed' \
  "$work/honeycomb.log" | tail -1 || true)"
[ -n "$summary" ] || die "honeycomb did not log its alert summary (exit $hc_status); see $work/honeycomb.log"
read -r hc_accepted hc_dropped_type hc_dropped_full hc_failed < <(
  awk '{ print $2, $4, $8, $12 }' <<<"${summary//,/}")
alert_lines="$(cat "$alerts" "$alerts".* 2>/dev/null | grep -c '"event_type":"simple_http"' || true)"
debug_lines="$(grep -c '"event_type":"simple_http"' "$home/honeycomb.debug.log" || true)"

nginx_rps="$(median "${nginx_rps_all[@]}")"
hc_rps="$(median "${hc_rps_all[@]}")"
ratio="$(awk -v a="$hc_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')"

# wrk counts the responses it read; when a run ends each connection may have
# one request in flight that the server answered but wrk never read. So a
# server's own count lies in [wrk, wrk + connections per run].
runs=$((rounds + 1))
slack=$((runs * connections))
status=OK
reasons=()
if [ "$alert_lines" -ne "$hc_accepted" ]; then reasons+=("json_file has $alert_lines alerts, $hc_accepted accepted"); fi
if [ "$debug_lines" -ne "$hc_accepted" ]; then reasons+=("debug log has $debug_lines alerts, $hc_accepted accepted"); fi
if [ "$hc_dropped_full" -ne 0 ] || [ "$hc_failed" -ne 0 ] || [ "$hc_dropped_type" -ne 0 ]; then
  reasons+=("pipeline dropped/failed alerts: $summary")
fi
if [ "$hc_accepted" -lt "$hc_total" ] || [ "$hc_accepted" -gt $((hc_total + slack)) ]; then
  reasons+=("$hc_accepted alerts for $hc_total responses wrk read (allowed: up to $slack more)")
fi
if [ "$hc_status" -ne 0 ]; then reasons+=("honeycomb exited with $hc_status"); fi
if [ ${#reasons[@]} -gt 0 ]; then status=MISMATCH; fi

printf '\n%-34s %14s %14s\n' "" nginx honeycomb
printf '%-34s %14s %14s\n' "requests/s (median of $rounds)" "$nginx_rps" "$hc_rps"
printf '%-34s %14s %14s\n' "p99 latency ms (median)" "$(median "${nginx_p99_all[@]}")" "$(median "${hc_p99_all[@]}")"
printf '%-34s %14s %14s\n' "responses read by wrk (all runs)" "$nginx_total" "$hc_total"
printf '%-34s %14s %14s\n' "requests served (server side)" "$nginx_served" "$hc_accepted"
printf '%-34s %14s %14s\n' "alert lines, json_file" "-" "$alert_lines"
printf '%-34s %14s %14s\n' "alert records, debug log" "-" "$debug_lines"
printf '%-34s %14s %14s\n' "idle RSS MB (anon + file)" "-" "$(mb "$idle_rss") ($(mb "$idle_anon")+$(mb "$idle_file"))"
printf '%-34s %14s %14s\n' "RSS MB after load (anon)" "-" "$(mb "$loaded_rss") ($(mb "$loaded_anon"))"
printf '%-34s %14s %14s\n' "threads at idle" "-" "$idle_threads"
printf '\nratio honeycomb/nginx requests/s: %s (target >= 0.80)\n' "$ratio"
printf 'alerts: %s' "$status"
if [ ${#reasons[@]} -gt 0 ]; then printf ' (%s)' "$(IFS=';'; echo "${reasons[*]}")"; fi
printf '\n'
[ "$status" = OK ] || exit 1
