// Package bench holds side-by-side benchmarks: each adapter of this module
// against the raw client it wraps and against the peer library users would
// otherwise pick, in the same `go test -bench` run so the ratios are fair.
// BENCHMARKS.md at the repository root records a run and how to repeat it.
package bench
