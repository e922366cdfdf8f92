//go:build race

package memorycache_test

// raceEnabled: the race detector makes sync.Pool drop items, and ristretto
// keeps its read counts in pooled buffers.
const raceEnabled = true
