#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test: the release build,
# then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
# Before them, each libFuzzer target runs for a bounded time (scripts/fuzz.sh).
#   scripts/test.sh            # fuzz, release, asan
#   scripts/test.sh release    # some of them (fuzz|release|asan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/open-for-pots.sh
scripts/build-web.sh --tests

flavors=("${@:-fuzz release asan}")
# shellcheck disable=SC2206
flavors=(${flavors[*]})
jobs="$(nproc)"
status=0
for flavor in "${flavors[@]}"; do
  if [ "$flavor" = fuzz ]; then
    echo "=== fuzzing (${HONEYCOMB_FUZZ_SECONDS:-15}s per target) ==="
    scripts/fuzz.sh "${HONEYCOMB_FUZZ_SECONDS:-15}" || status=1
    continue
  fi
  echo "=== building ($flavor) ==="
  scripts/build.sh "$flavor"
  dir=build; [ "$flavor" = asan ] && dir=build-asan
  echo "=== testing ($flavor) ==="
  # ASan: fail on leaks and errors in children too; UBSan: stop at the first report.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_init_order=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  if ! ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 900; then
    status=1
  fi
done
exit $status
