#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [seconds per target, default 30]
# Runs every fuzz target of the module for a while. The seed corpora already
# run as ordinary tests in scripts/test.sh; this explores beyond them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $target (${secs}s)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "${secs}s" "$pkg"
  done
done
