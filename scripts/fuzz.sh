#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [seconds per target, default 30] [packages, default ./...]
# Runs every fuzz target of the module, one after the other, and fails if any
# of them fails; the seed corpora already run as ordinary tests in
# scripts/test.sh, this explores beyond them. A crasher is written to the
# package's testdata/fuzz, to be kept as a regression seed once fixed.
#
# Each target runs under a memory limit, so that a decoder that lets hostile
# bytes decide what it allocates fails its target instead of stalling the
# machine: GOMEMLIMIT makes the collector work harder past FUZZ_SOFT_MIB, and
# the address space of the fuzzing processes is capped at FUZZ_HARD_MIB
# (ulimit -v), past which the Go runtime dies with "fatal error: out of
# memory" and the fuzzer reports the input that did it. Only the test binary
# runs under the cap: it is built first, outside it.
#
# Go's fuzzer has no time limit per input: one that makes a target hang, or
# grow its memory slowly toward the cap, would run out the clock and pass. So
# a target also fails when it never finished its seed corpus, or, in a run of
# more than twice $stall, ran no input during its last $stall seconds (longer
# than the 60 s a worker may spend minimizing a new input, during which the
# count stands still too).
#
# Environment: FUZZ_RUN, a regexp of the targets to run (default all);
# FUZZ_PARALLEL workers per target (default 1: fuzzing is CPU-bound and
# machines are shared); FUZZ_SOFT_MIB (default 512); FUZZ_HARD_MIB (default
# 4096: the fuzzing engine alone reserves about 2 GiB of address space).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
pkgs=("${@:-./...}")
parallel=${FUZZ_PARALLEL:-1}
soft=${FUZZ_SOFT_MIB:-512}
hard=${FUZZ_HARD_MIB:-4096}
run=${FUZZ_RUN:-.}
stall=90 # seconds

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/log
failed=()
summary=()
fail() {
  echo "FAIL: $1"
  failed+=("$2")
}
for pkg in $(go list "${pkgs[@]}"); do
  targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E -- "$run" || true)
  [ -n "$targets" ] || continue
  bin=$work/pkg.test
  go test -c -fuzz . -o "$bin" "$pkg"
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $targets; do
    echo "== $pkg $target (${secs}s, -parallel $parallel, GOMEMLIMIT ${soft}MiB, ulimit -v ${hard}MiB)"
    before=${#failed[@]}
    if ! (
      cd "$dir"
      ulimit -v $((hard * 1024))
      GOMEMLIMIT=${soft}MiB exec "$bin" -test.run '^$' -test.fuzz "^${target}\$" \
        -test.fuzztime "${secs}s" -test.parallel "$parallel" \
        -test.fuzzcachedir "$(go env GOCACHE)/fuzz/$pkg"
    ) 2>&1 | tee "$log"; then
      fail "$target failed" "$pkg $target"
    elif grep -q 'gathering baseline coverage' "$log" && ! grep -q 'now fuzzing' "$log"; then
      fail "$target never finished its seed corpus: an input hangs or grows without bound" "$pkg $target"
    elif [ "$secs" -gt $((2 * stall)) ] && awk -v stall="$stall" '
        match($0, /elapsed: [0-9hms]+, execs: [0-9]+/) {
          split(substr($0, RSTART, RLENGTH), f, /[ ,]+/); t = f[2]; n = f[4]
          s = 0; if (t ~ /h/) { s += 3600 * t; sub(/^[0-9]+h/, "", t) }
          if (t ~ /m/) { s += 60 * t; sub(/^[0-9]+m/, "", t) }
          s += t + 0; at[++k] = s; execs[k] = n
        }
        END { for (i = k; i > 0 && at[k] - at[i] < stall; i--) ; exit !(i > 0 && execs[i] == execs[k]) }' "$log"; then
      fail "$target ran no input during its last ${stall}s: an input hangs or grows without bound" "$pkg $target"
    fi
    # The fuzzer's last progress line says how many inputs it ran.
    execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    status=ok
    [ ${#failed[@]} -eq "$before" ] || status=FAILED
    summary+=("$(printf '%-8s %12s execs  %s %s' "$status" "${execs:-?}" "$pkg" "$target")")
  done
done

echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
