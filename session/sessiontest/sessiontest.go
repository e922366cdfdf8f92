// Package sessiontest is the end-to-end suite of package session, run
// against any cache.Adapter: every behaviour the session package documents
// is a named subtest that drives a real HTTP server through a client with a
// cookie jar, and checks what reached the store.
//
// An adapter's test file adds one function:
//
//	func TestSessions(t *testing.T) {
//		sessiontest.Run(t, func(t *testing.T) cache.Adapter {
//			a, err := mycache.New(...) // isolated: own folder, namespace or key prefix
//			if err != nil {
//				t.Fatal(err)
//			}
//			return a
//		})
//	}
package sessiontest

import (
	"github.com/cachelib-go/cachelib/internal/suite"
	"net/url"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// NewFunc returns a fresh adapter for one subtest. Adapters it returns must
// not see each other's entries, since subtests run in parallel. The suite
// closes each adapter when its subtest ends.
type NewFunc func(t *testing.T) cache.Adapter

// Option declares a real limit of the backend under test.
type Option func(*config)

type config struct {
	resolution time.Duration
}

// WithTTLResolution declares the backend's expiry resolution (default one
// millisecond). The suite's expiry tests then use lifetimes and idle
// timeouts of a few times that resolution, and wait accordingly.
func WithTTLResolution(d time.Duration) Option { return func(c *config) { c.resolution = d } }

type harness struct {
	cfg        config
	newAdapter NewFunc
}

// short is a lifetime or idle timeout long enough for a few requests under
// the race detector on a busy machine, and several times the backend's
// resolution.
func (h *harness) short() time.Duration {
	return max(time.Second, 3*h.cfg.resolution)
}

// slack is how long past its end a session may still be found: the
// backend's resolution plus scheduling noise.
func (h *harness) slack() time.Duration {
	return h.cfg.resolution + 200*time.Millisecond
}

type rule = suite.Rule[*harness]

// Run checks every documented behaviour of package session with adapters
// made by newAdapter, each one a parallel subtest of t named after it.
func Run(t *testing.T, newAdapter NewFunc, opts ...Option) {
	h := &harness{cfg: config{resolution: time.Millisecond}, newAdapter: newAdapter}
	for _, o := range opts {
		o(&h.cfg)
	}
	suite.Run(t, "behaviour", rules, h)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
