#!/usr/bin/env bash
# Builds the web dashboard (web/ -> web/dist/, which the core serves at / on
# its API port) with the versions pinned in web/package-lock.json, and, with
# --tests, installs the browser tests' playwright-core (tests/browser/).
# npm is needed only here: the built dashboard works offline.
#   scripts/build-web.sh [--tests]
set -euo pipefail
cd "$(dirname "$0")/.."

npm_ci() {
  # Reinstall only when the lock file changed since the last install.
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    echo "[build-web] npm ci in $1"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

npm_ci web
echo "[build-web] building the dashboard"
(cd web && npm run --silent build)
if [ "${1:-}" = --tests ]; then
  npm_ci tests/browser
fi
