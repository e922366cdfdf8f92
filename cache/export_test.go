package cache

import (
	"strings"
	"testing"
)

// RegisterForTest registers open under scheme for the duration of t, so
// that a test that registers a scheme can run more than once in one
// process (go test -count=2).
func RegisterForTest(t testing.TB, scheme string, open OpenFunc) {
	Register(scheme, open)
	t.Cleanup(func() {
		registry.Lock()
		defer registry.Unlock()
		delete(registry.m, strings.ToLower(scheme))
	})
}
