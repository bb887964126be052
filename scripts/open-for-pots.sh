#!/usr/bin/env bash
# Pots run as their own unprivileged users (docs/POTS.md § Sandbox) and must
# reach the honeycomb binary of this checkout's build folder. A checkout in
# a folder closed to other users (a home folder, a `mktemp -d` folder) would
# make every pot fail with "uid N cannot reach ...". As root, this opens the
# folders above the checkout for traversal only (o+x: entering, not listing)
# where they are closed, and says which. Nothing to do when not root (pots
# then run as the user who runs the node) or when the binary is installed
# elsewhere.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || exit 0
dir="$(cd "$(dirname "$0")/.." && pwd -P)"
while [ "$dir" != "/" ]; do
  mode="$(stat -c %a "$dir")"
  if [ $(( 8#$mode & 1 )) -eq 0 ]; then
    echo "[*] $dir: opened for traversal (o+x) so that pots, running as their own users, reach the build"
    chmod o+x "$dir"
  fi
  dir="$(dirname "$dir")"
done
