#!/usr/bin/env bash
# Benchmark: alerts per second from a Python plugin (run by the C++ host in a
# child process) that raises alerts in a tight loop, through the host's
# pipeline to json_file (and the debug log). See docs/PYTHON_PLUGINS.md.
#
#   scripts/build.sh release && bench/python_alerts/run.sh
#
# Environment (defaults in brackets):
#   HONEYCOMB_BUILD_DIR   build tree holding bin/honeycomb [build]
#   HONEYCOMB_PYTHON      interpreter for the plugin [python3]
#   BENCH_ALERTS          alerts the plugin raises per round [200000]
#   BENCH_ROUNDS          rounds; the median is reported [3]
#   BENCH_KEEP            1: keep the temp dir for inspection [0]
#
# Prints, per round and as the median: the rate at which the plugin raised
# alerts (Python side), the end-to-end rate (first alert raised -> last line
# in the json_file output), and lines written vs. raised.
# Exit status: 0 when every round wrote every alert exactly once, 1 on loss,
# 2 on a setup failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

build_dir="${HONEYCOMB_BUILD_DIR:-build}"
alerts="${BENCH_ALERTS:-200000}"
rounds="${BENCH_ROUNDS:-3}"

. bench/lib.sh

honeycomb_bin="$repo/$build_dir/bin/honeycomb"
[ -x "$honeycomb_bin" ] || die "$honeycomb_bin not found; run scripts/build.sh release (or set HONEYCOMB_BUILD_DIR)"
python_bin="${HONEYCOMB_PYTHON:-python3}"
command -v "$python_bin" >/dev/null || die "$python_bin not found"
export HONEYCOMB_PYTHON="$python_bin"

work="$(mktemp -d /tmp/honeycomb-pybench.XXXXXX)"
honeycomb_pid=""
cleanup() {
  stop_process "$honeycomb_pid" KILL
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

root_flag=()
if [ "$(id -u)" = 0 ]; then root_flag=(--iamroot); fi
hc_cmd=("$honeycomb_bin" --home "$work/home" "${root_flag[@]}")
hc() { "${hc_cmd[@]}" "$@"; }

# The plugin: the reference API, raising alerts as fast as Python can.
plugin="$work/py_flood"
mkdir -p "$plugin"
cat > "$plugin/config.json" <<'JSON'
{
  "event_types": [{"name": "py_flood", "label": "Flood alert",
                   "fields": ["originating_ip", "originating_port", "request"], "policy": "Alert"}],
  "service": {"allow_many": false, "supported_os_families": "All", "ports": [],
              "name": "py_flood", "label": "Raises alerts in a tight loop", "conflicts_with": []},
  "parameters": [{"type": "integer", "value": "count", "label": "Alerts to raise", "required": true}]
}
JSON
cat > "$plugin/py_flood_service.py" <<'PY'
import threading
import time

from base_service import ServerCustomService


class FloodService(ServerCustomService):
    def __init__(self, *args, **kwargs):
        super(FloodService, self).__init__(*args, **kwargs)
        self.stop = threading.Event()

    def on_server_start(self):
        count = self.service_args["count"]
        self.signal_ready()
        add = self.add_alert_to_queue
        began = time.time()
        for i in range(count):
            add({"event_type": "py_flood", "originating_ip": "10.0.0.1", "originating_port": i % 65536,
                 "request": "GET /flood/%d HTTP/1.1" % i})
        ended = time.time()
        self.logger.info("flood: raised %d alerts from %.6f to %.6f" % (count, began, ended))
        self.stop.wait()

    def on_server_shutdown(self):
        self.stop.set()


service_class = FloodService
PY

hc service install "$plugin" >/dev/null || die "cannot install the benchmark plugin"
hc integration install json_file >/dev/null || die "cannot install json_file"

results=()
status=0
for round in $(seq 1 "$rounds"); do
  out="$work/alerts-$round.json"
  rm -f "$out" "$work/home/honeycomb.debug.log"
  hc integration configure json_file "filepath=$out" >/dev/null
  # Not through a function: $! must be honeycomb itself.
  "${hc_cmd[@]}" service run py_flood "count=$alerts" -i json_file >"$work/run-$round.log" 2>&1 &
  honeycomb_pid=$!
  # Wait (with a deadline, not a fixed sleep) until every alert is written.
  deadline=$(( $(date +%s) + 120 ))
  lines=0
  while :; do
    lines=$( [ -f "$out" ] && wc -l <"$out" || echo 0 )
    if [ "$lines" -ge "$alerts" ]; then break; fi
    if ! kill -0 "$honeycomb_pid" 2>/dev/null; then break; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then break; fi
    sleep 0.01
  done
  written_at=$(date +%s.%N)
  # SIGTERM: background jobs of a script ignore SIGINT.
  kill -TERM "$honeycomb_pid" 2>/dev/null || true
  wait "$honeycomb_pid" 2>/dev/null || true
  honeycomb_pid=""
  lines=$( [ -f "$out" ] && wc -l <"$out" || echo 0 )
  read -r began ended < <("$python_bin" - "$work/home/honeycomb.debug.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    m = r.get("message", "")
    if m.startswith("flood: raised"):
        parts = m.split()
        print(parts[5], parts[7])
        break
else:
    print("0 0")
PY
)
  counters=$(grep -o '"message":"alerts: [^"]*"' "$work/home/honeycomb.debug.log" | tail -1 | sed 's/"message":"//; s/"$//')
  read -r raise_rate e2e_rate < <("$python_bin" -c "
n=$alerts; b=$began; e=$ended; w=$written_at
print('%.0f %.0f' % (n / (e - b) if e > b else 0, n / (w - b) if w > b else 0))")
  echo "round $round: raised $alerts in the plugin at $raise_rate alerts/s; end to end (json_file) $e2e_rate alerts/s; lines written $lines of $alerts raised; $counters"
  results+=("$e2e_rate")
  if [ "$lines" -ne "$alerts" ]; then status=1; fi
  # Duplicates would hide a loss: check the lines are distinct alerts.
  distinct=$(cut -d'"' -f4 "$out" | sort -u | wc -l)
  if [ "$distinct" -ne "$lines" ]; then
    echo "round $round: $distinct distinct ids in $lines lines"
    status=1
  fi
done

median=$(printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "python_alerts: median end-to-end $median alerts/s over $rounds rounds of $alerts alerts (Python plugin -> host -> json_file + debug log)"
exit $status
