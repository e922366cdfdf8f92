// Package suite runs conformance suites made of named rules, the way
// cache/cachetest and session/sessiontest do: each rule a parallel subtest
// that, when it fails, says which documented rule it broke.
package suite

import "testing"

// Rule is one named, documented check of a suite with harness type H.
type Rule[H any] struct {
	Name string
	Doc  string
	Run  func(t *testing.T, h H)
}

// Run runs every rule as a parallel subtest of t named after it. kind names
// what a rule is ("rule", "behaviour") in the failure message.
func Run[H any](t *testing.T, kind string, rules []Rule[H], h H) {
	for _, r := range rules {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s %s: %s", kind, r.Name, r.Doc)
				}
			})
			r.Run(t, h)
		})
	}
}
