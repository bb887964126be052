#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test: the release build,
# then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            # both builds
#   scripts/test.sh release    # one of them (release|asan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

flavors=("${@:-release asan}")
# shellcheck disable=SC2206
flavors=(${flavors[*]})
jobs="$(nproc)"
status=0
for flavor in "${flavors[@]}"; do
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
