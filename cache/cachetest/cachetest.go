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

// shortTTL is the TTL the rules' expiring entries start with: short, to
// keep the suite quick, and never below the backend's resolution. It is
// only a first try: Expiring lengthens it when operations turn out slower.
func (h *harness) shortTTL() time.Duration {
	return max(300*time.Millisecond, h.cfg.resolution)
}

// expiring runs check as Expiring does, with the rules' first TTL and the
// backend's resolution.
func (h *harness) expiring(t *testing.T, check func(x *Attempt)) {
	t.Helper()
	Expiring(t, h.shortTTL(), h.cfg.resolution, check)
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

// maxAttempts bounds how many times Expiring tries a check before it
// reports that no attempt could judge it.
const maxAttempts = 6

// Expiring runs check, a test of entries that expire, and judges it by what
// it measured instead of by a guess of how fast the backend is. check is
// given an Attempt, which holds the TTL to write the entries with and
// times those writes: an entry must still be there until the TTL, rounded
// up to resolution, has passed since the start of the first write
// (Attempt.Live), and must be gone once that TTL and the resolution have
// passed since the end of the last write (Attempt.Expire), and half the
// resolution more for a server whose clock ticks at the resolution and
// may tick late (memcached's, once a second). The resolution is the
// backend's, as WithTTLResolution declares it.
//
// A check that an entry is still there which fails after its TTL has
// passed proves nothing: the operations were too slow for the TTL (a
// loaded machine, a slow server), not the entry too short-lived. Such an
// attempt is abandoned, and check runs again with a TTL twice as long, or
// longer when the operation needs it, until the checks fit; after
// maxAttempts tries, or when the next try would outlast the test's
// deadline, the test fails saying that no attempt could judge the check.
// An attempt runs check from its start, so check should begin with a fresh
// adapter (or keys of its own): the entries of an abandoned attempt stay.
func Expiring(t *testing.T, ttl, resolution time.Duration, check func(x *Attempt)) {
	t.Helper()
	for i := 1; ; i++ {
		x := &Attempt{t: t, ttl: ttl, resolution: resolution}
		l := x.run(check)
		if l == nil {
			return
		}
		next := cache.RoundTTL(max(2*ttl, 2*l.after), resolution)
		deadline, ok := t.Deadline()
		if i == maxAttempts || ok && time.Now().Add(2*next).After(deadline) {
			t.Fatalf("no attempt could judge the check: in the last of %d, with TTL %v, a check of a live entry ended %v after the first write and failed: %v",
				i, ttl, l.after.Round(time.Millisecond), l.err)
		}
		t.Logf("TTL %v was too short to judge: a check of a live entry ended %v after the first write and failed (%v); trying again with TTL %v",
			ttl, l.after.Round(time.Millisecond), l.err, next)
		ttl = next
	}
}

// Attempt is one run of an Expiring check, with one TTL. Its methods must
// be called from the goroutine that runs the check.
type Attempt struct {
	t               *testing.T
	ttl, resolution time.Duration
	first, last     time.Time // the start of the first write, the end of the last
}

// late is what Live panics with to abandon an attempt whose check of a
// live entry failed after the TTL: a panic, so that a check can be
// abandoned from inside its helpers as t.FailNow ends a test, and run
// recovers it.
type late struct {
	after time.Duration // since the first write
	err   error
}

// run runs check, reporting whether it was abandoned.
func (x *Attempt) run(check func(x *Attempt)) (abandoned *late) {
	defer func() {
		// A test that failed ends by runtime.Goexit, which recover
		// leaves alone.
		if r := recover(); r != nil {
			l, ok := r.(late)
			if !ok {
				panic(r)
			}
			abandoned = &l
		}
	}()
	check(x)
	return nil
}

// TTL is the TTL to write the attempt's expiring entries with.
func (x *Attempt) TTL() time.Duration { return x.ttl }

// Write runs write, which stores entries with the attempt's TTL, and times
// it.
func (x *Attempt) Write(write func()) {
	start := time.Now()
	write()
	if x.first.IsZero() {
		x.first = start
	}
	x.last = time.Now()
}

// Set stores val under key in a with the attempt's TTL, failing the test if
// that fails, and times it.
func (x *Attempt) Set(a cache.Adapter, key, val string) {
	x.t.Helper()
	x.Write(func() { set(x.t, a, key, val, x.ttl) })
}

// Wait waits until d has passed since the start of the attempt's first
// write: to check entries late in their TTL, or to act halfway through it.
func (x *Attempt) Wait(d time.Duration) {
	x.t.Helper()
	sleep(x.t, time.Until(x.first.Add(d)))
}

// Live judges err, the outcome of a check just made that entries written
// with the attempt's TTL are still there: nil if it passed. A failure
// within the TTL fails the test; one after it abandons the attempt, and
// Expiring tries again with a longer TTL.
func (x *Attempt) Live(err error) {
	x.t.Helper()
	if err == nil {
		return
	}
	if !x.within() {
		panic(late{after: time.Since(x.first), err: err})
	}
	x.t.Fatal(err)
}

// within reports whether a check that ended now was within the TTL of
// every entry the attempt wrote (the TTL rounded up to the resolution,
// since the start of the first write), or came before any write.
func (x *Attempt) within() bool {
	return x.first.IsZero() || time.Since(x.first) < cache.RoundTTL(x.ttl, x.resolution)
}

// Expire waits until every entry the attempt wrote must be gone.
func (x *Attempt) Expire() {
	x.t.Helper()
	if x.last.IsZero() {
		return
	}
	sleep(x.t, time.Until(x.last.Add(cache.RoundTTL(x.ttl, x.resolution)+x.resolution+x.resolution/2)))
}
