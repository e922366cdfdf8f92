package rediscache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
	"github.com/redis/go-redis/v9"
)

// Faults between the adapter and a real server, injected by a proxy: every
// call ends with an error by its context's deadline, and the adapter works
// again once the network does.
func TestFaults(t *testing.T) {
	proxy := faultproxy.Start(t, standaloneAddr(t))
	client := closeWith(t, redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true}))
	a := newCache(t, client, rediscache.WithPrefix(uniquePrefix("%s:")))
	must(t, a.Set(t.Context(), "k", []byte("v"), 0))

	const deadline = 300 * time.Millisecond
	// Room for scheduling under the race detector on a busy machine, and
	// still far below the client's 5 s ReadTimeout, which is how long a
	// call that ignored its deadline would hang.
	const slack = time.Second
	// In this order, each call succeeds on a working server.
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Clear", func(ctx context.Context) error { return a.Clear(ctx) }},
		{"Set", func(ctx context.Context) error { return a.Set(ctx, "k", []byte("v"), 0) }},
		{"Get", func(ctx context.Context) error { _, err := a.Get(ctx, "k"); return err }},
		{"GetMany", func(ctx context.Context) error { _, err := a.GetMany(ctx, []string{"k", "j"}); return err }},
		{"SetMany", func(ctx context.Context) error {
			return a.SetMany(ctx, map[string][]byte{"k": []byte("v"), "j": nil}, 0)
		}},
		{"Increment", func(ctx context.Context) error { _, err := a.Increment(ctx, "n", 1); return err }},
	}
	// failAll runs every call with the deadline and checks that each fails
	// in time with an error matching want (nil: any error).
	failAll := func(t *testing.T, want error) {
		t.Helper()
		for _, c := range calls {
			name := c.name
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			start := time.Now()
			err := c.call(ctx)
			took := time.Since(start)
			cancel()
			if err == nil {
				t.Errorf("%s succeeded through the fault", name)
				continue
			}
			t.Logf("%s: %v after %v", name, err, took)
			if took > deadline+slack {
				t.Errorf("%s took %v to fail, beyond its %v deadline: %v", name, took, deadline, err)
			}
			if want != nil && !errors.Is(err, want) {
				t.Errorf("%s: %v, want an error matching %v", name, err, want)
			}
			if errors.Is(err, cache.ErrNotFound) {
				t.Errorf("%s reported a fault as a miss: %v", name, err)
			}
		}
	}
	works := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		for _, c := range calls {
			if err := c.call(ctx); err != nil {
				t.Fatalf("%s after Restore: %v", c.name, err)
			}
		}
		wantValue(t, a, "k", "v")
	}

	t.Run("cut", func(t *testing.T) {
		proxy.Cut()
		failAll(t, nil)
		proxy.Restore()
		works(t)
	})
	t.Run("blackhole", func(t *testing.T) {
		proxy.Blackhole()
		failAll(t, context.DeadlineExceeded)
		proxy.Restore()
		works(t)
	})
	t.Run("latency", func(t *testing.T) {
		proxy.Latency(2 * deadline)
		failAll(t, context.DeadlineExceeded)
		proxy.Restore()
		works(t)
	})
}
