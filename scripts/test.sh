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
# Every call of every adapter is bounded by its own timeout, so no test can
# hang on a server; the binary timeout only stops a runaway. It is above go
# test's 10 minutes because the mongocache suite, on FerretDB, which reads a
# whole collection for each query, takes 2 minutes on an idle 2-core machine
# and several times that when the machine is loaded.
go test -race -count=1 -timeout 30m "$@" ./...
