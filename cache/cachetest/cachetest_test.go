package cachetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

// newMemory returns a memory cache of its own, the adapter the broken and
// slow ones below wrap.
func newMemory(t *testing.T) *memorycache.Cache {
	return cachetest.Open(t, "mem://").(*memorycache.Cache)
}

// slowWrites is a memory cache whose writes of expiring entries answer
// only after writeDelay, longer than the suite's first TTL: what a loaded
// machine did to a Set of mongocache (9.9 s for a 300 ms TTL).
type slowWrites struct{ *memorycache.Cache }

const writeDelay = 400 * time.Millisecond

func (s slowWrites) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	defer s.late(ttl)
	return s.Cache.Set(ctx, key, value, ttl)
}

func (s slowWrites) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	defer s.late(ttl)
	return s.Cache.Add(ctx, key, value, ttl)
}

func (s slowWrites) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	defer s.late(ttl)
	return s.Cache.SetMany(ctx, items, ttl)
}

func (slowWrites) late(ttl time.Duration) {
	if ttl > 0 {
		time.Sleep(writeDelay)
	}
}

// Operations slower than the TTL make no rule fail: the rules measure them
// and try again with a TTL that fits.
func TestSlowBackend(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Adapter {
		return slowWrites{newMemory(t)}
	}, cachetest.WithTTLResolution(memorycache.Resolution))
}

// Adapters that break a time-dependent rule, for TestStrict; each is run
// on the rule it breaks.
var broken = map[string]struct {
	rule string
	new  func(m *memorycache.Cache) cache.Adapter
}{
	"never-expires": {"TTLExpires", func(m *memorycache.Cache) cache.Adapter { return neverExpires{m} }},
	"expires-early": {"TTLExpires", func(m *memorycache.Cache) cache.Adapter { return expiresEarly{m} }},
	"tiny-never-expires": {"TinyTTLRoundsUp", func(m *memorycache.Cache) cache.Adapter {
		return tinyNeverExpires{m}
	}},
	"increment-resets-ttl": {"IncrementKeepsTTL", func(m *memorycache.Cache) cache.Adapter {
		return &incrementResetsTTL{Cache: m, ttls: map[string]time.Duration{}}
	}},
}

type neverExpires struct{ *memorycache.Cache }

func (n neverExpires) Set(ctx context.Context, key string, value []byte, _ time.Duration) error {
	return n.Cache.Set(ctx, key, value, 0)
}

// expiresEarly keeps entries for a quarter of their TTL.
type expiresEarly struct{ *memorycache.Cache }

func (e expiresEarly) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return e.Cache.Set(ctx, key, value, ttl/4)
}

// tinyNeverExpires truncates TTLs to milliseconds: one below is "no expiry".
type tinyNeverExpires struct{ *memorycache.Cache }

func (n tinyNeverExpires) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return n.Cache.Set(ctx, key, value, ttl.Truncate(time.Millisecond))
}

// incrementResetsTTL writes a counter back with the TTL it was first set
// with, starting it again.
type incrementResetsTTL struct {
	*memorycache.Cache
	mu   sync.Mutex
	ttls map[string]time.Duration
}

func (r *incrementResetsTTL) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	r.mu.Lock()
	r.ttls[key] = ttl
	r.mu.Unlock()
	return r.Cache.Set(ctx, key, value, ttl)
}

func (r *incrementResetsTTL) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	n, err := r.Cache.Increment(ctx, key, delta)
	if err != nil {
		return n, err
	}
	r.mu.Lock()
	ttl := r.ttls[key]
	r.mu.Unlock()
	v, err := r.Cache.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	return n, r.Cache.Set(ctx, key, v, ttl)
}

// brokenEnv names the broken adapter that TestStrict, in the process it
// starts, runs the suite on.
const brokenEnv = "CACHETEST_BROKEN"

// Measuring does not make the rules lenient: each broken adapter fails the
// rule it breaks, with a judgement rather than an inconclusive attempt.
func TestStrict(t *testing.T) {
	if name := os.Getenv(brokenEnv); name != "" {
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return broken[name].new(newMemory(t))
		}, cachetest.WithTTLResolution(memorycache.Resolution))
		return
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := runChild(t, brokenEnv+"="+name, "^TestStrict$/^"+b.rule+"$")
			if !strings.Contains(out, "--- FAIL: TestStrict/"+b.rule) || strings.Contains(out, "no attempt could judge") {
				t.Fatalf("the suite on %s did not fail %s with a judgement:\n%s", name, b.rule, out)
			}
		})
	}
}

// runChild runs the tests of this binary that run matches, with env added,
// and returns their output, failing t unless they failed.
func runChild(t *testing.T, env, run string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+run, "-test.v", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v, want a failure:\n%s", env, run, err, out)
	}
	return string(out)
}

// expiringEnv makes the tests of Expiring below run the check that must
// fail, in the process they start.
const expiringEnv = "CACHETEST_EXPIRING"

// When no TTL lets the checks run in time, Expiring fails saying so: never
// a silent pass.
func TestExpiringReportsInconclusive(t *testing.T) {
	if os.Getenv(expiringEnv) == "" {
		out := runChild(t, expiringEnv+"=1", "^TestExpiringReportsInconclusive$")
		if !strings.Contains(out, "no attempt could judge the check") || !strings.Contains(out, "the entry is gone") {
			t.Fatalf("want the test to fail as inconclusive, with the last error:\n%s", out)
		}
		return
	}
	// Every check of a live entry fails, and ends after the TTL.
	cachetest.Expiring(t, time.Millisecond, time.Millisecond, func(x *cachetest.Attempt) {
		x.Write(func() {})
		time.Sleep(2 * x.TTL())
		x.Live(errors.New("the entry is gone"))
	})
}

// A failure within the TTL is a failure, never retried.
func TestExpiringFailsInTime(t *testing.T) {
	if os.Getenv(expiringEnv) == "" {
		out := runChild(t, expiringEnv+"=1", "^TestExpiringFailsInTime$")
		if !strings.Contains(out, "missing within the TTL") || strings.Contains(out, "trying again") {
			t.Fatalf("want one attempt, failed:\n%s", out)
		}
		return
	}
	cachetest.Expiring(t, time.Hour, time.Millisecond, func(x *cachetest.Attempt) {
		x.Write(func() {})
		x.Live(errors.New("missing within the TTL"))
	})
}
