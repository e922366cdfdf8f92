//go:build !race

package memorycache_test

const raceEnabled = false
