#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (build-fuzz/) and runs each for
# a bounded time on its seed corpus. CI runs it with the default; run longer
# by hand:  scripts/fuzz.sh 600
#   scripts/fuzz.sh [seconds-per-target]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHONEYCOMB_FUZZ=ON \
  -DHONEYCOMB_BUILD_TESTS=OFF -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 "${launcher[@]}" >/dev/null
targets=(json_text_fuzz service_config_fuzz parameters_fuzz protocol_fuzz pot_event_reader_fuzz event_line_fuzz honeypot_fuzz ssh_hello_fuzz web_site_fuzz
  yaml_config_fuzz rest_api_fuzz ws_filter_fuzz services_fuzz potstore_fuzz security_fuzz
  pg_text_fuzz)
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"
status=0
for t in "${targets[@]}"; do
  corpus="build-fuzz/corpus/${t%_fuzz}"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"${t%_fuzz}"/* "$corpus"/ 2>/dev/null || true
  log="build-fuzz/$t.log"
  if build-fuzz/bin/"$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 "$corpus" >"$log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz $t: ${runs:-?} executions in ${seconds}s, no findings"
  else
    echo "fuzz $t: FINDING (see $log)"; tail -40 "$log"; status=1
  fi
done
exit $status
