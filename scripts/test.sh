#!/usr/bin/env bash
# Usage: scripts/test.sh [go test flags...]
# Every check a change must pass: formatting, go vet, and all tests under the
# race detector. Extra arguments go to `go test` (e.g. -run Conformance).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt -l"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "these files need gofmt:"; echo "$unformatted"; exit 1
fi

echo "== go vet ./..."
go vet ./...

echo "== scripts/services.sh start"
scripts/services.sh start

echo "== go test -race ./..."
go test -race -count=1 "$@" ./...
