// Package cachetest is the conformance suite for cache.Adapter
// implementations, in the manner of testing/slogtest: every rule of the
// contract written in package cache is a named subtest, run on a fresh
// adapter, and a failure prints the rule it broke.
//
// An adapter's test file is short:
//
//	func TestConformance(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) cache.Adapter {
//			a, err := mycache.New(...) // isolated: own folder, namespace or key prefix
//			if err != nil {
//				t.Fatal(err)
//			}
//			return a
//		})
//	}
//
// Limits that a backend really has are declared with options
// (WithTTLResolution, WithMaxValueSize, WithoutClear); the suite then checks
// the rules against those limits instead of skipping them.
package cachetest

import (
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/internal/suite"

	"github.com/cachelib-go/cachelib/cache"
)

// Option declares a real limit of the backend under test.
type Option func(*config)

type config struct {
	resolution    time.Duration
	maxValueSize  int
	unscopedClear bool
}

// WithTTLResolution declares the backend's expiry resolution (default one
// millisecond): the adapter rounds shorter TTLs up to it, and an entry may
// outlive its TTL by up to this much. Memcached, for example, counts whole
// seconds.
func WithTTLResolution(d time.Duration) Option { return func(c *config) { c.resolution = d } }

// WithMaxValueSize declares the largest value, in bytes, that the backend
// accepts when that is less than 1 MiB. The suite then checks that a value of
// that size round-trips and that a larger one gives cache.ErrTooLarge.
func WithMaxValueSize(n int) Option { return func(c *config) { c.maxValueSize = n } }

// WithoutClear declares that the adapter cannot remove only its own entries,
// because its backend can only be emptied as a whole (a gocache store on a
// shared server, whose Clear is FLUSHALL). Such an adapter must refuse Clear
// with an error matching errors.ErrUnsupported, and the Clear rules then check
// that it does and that nothing was removed.
func WithoutClear() Option { return func(c *config) { c.unscopedClear = true } }

// NewFunc returns a fresh adapter for one subtest. Adapters it returns must not
// see each other's entries (give each its own folder, namespace or key
// prefix), since subtests run in parallel. The suite closes each adapter when
// its subtest ends.
type NewFunc func(t *testing.T) cache.Adapter

type harness struct {
	cfg        config
	newAdapter NewFunc
}

// shortTTL is long enough for a few round trips under the race detector,
// and never below the backend's resolution.
func (h *harness) shortTTL() time.Duration {
	return max(300*time.Millisecond, h.cfg.resolution)
}

// expireWait is how long after a Set with shortTTL the entry must be gone:
// the TTL, the resolution it may be rounded up by, and slack for a loaded
// machine and for servers whose clock ticks at the resolution (Memcached's
// once a second).
func (h *harness) expireWait() time.Duration {
	return h.shortTTL() + h.cfg.resolution + max(150*time.Millisecond, h.cfg.resolution/2)
}

func (h *harness) new(t *testing.T) cache.Adapter {
	t.Helper()
	a := h.newAdapter(t)
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a
}

type rule = suite.Rule[*harness]

// Run checks every rule of the contract against adapters made by newAdapter,
// each rule a subtest of t named after it.
func Run(t *testing.T, newAdapter NewFunc, opts ...Option) {
	h := &harness{cfg: config{resolution: time.Millisecond}, newAdapter: newAdapter}
	for _, o := range opts {
		o(&h.cfg)
	}
	suite.Run(t, "rule", rules, h)
}
