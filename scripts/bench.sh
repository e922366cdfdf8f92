#!/usr/bin/env bash
# Usage: scripts/bench.sh [go test flags...]
#        scripts/bench.sh --report-only [bench/report flags...]
#
# The one command that regenerates BENCHMARKS.md and bench/charts/*.svg, all
# from one run of the side-by-side benchmarks in ./bench so that the figures
# are comparable:
#   1. scripts/services.sh start: the servers the benchmarks talk to;
#   2. go test -run '^$' -bench . -benchmem -count 6 -timeout 40m [FLAGS] ./bench/
#      with its output shown and saved as bench/results.txt once the run has
#      passed (a failed run leaves the previous results in place);
#   3. go run ./bench/report: BENCHMARKS.md and bench/charts from that file.
# FLAGS come after the defaults and so override them, e.g. -count 10 for ten
# runs per benchmark. The report needs every benchmark its layout
# (bench/report/layout.go) names, so a run narrowed with -bench fails at 3.
#
# --report-only does step 3 alone on the existing bench/results.txt; the
# arguments after it go to bench/report (-in, -md, -charts; see its -h).
#
# The benchmarks measure time: run them on a machine doing nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} == --report-only ]]; then
  shift
  exec go run ./bench/report "$@"
fi

scripts/services.sh start
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench . -benchmem -count 6 -timeout 40m "$@" ./bench/ | tee "$out"
cp "$out" bench/results.txt
go run ./bench/report
