package mongocache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/mongocache"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// Faults between the adapter and a real server, injected by a proxy: every
// call ends with an error by its context's deadline, never a panic or a
// miss, and the adapter works again once the network does.
func TestFaults(t *testing.T) {
	_, host := serverURI(t)
	proxy := faultproxy.Start(t, host)
	client := connect(t, "mongodb://"+proxy.Addr()+"/?directConnection=true")
	c := newCache(t, newCollection(t, client), mongocache.WithPrefix("faults:"))
	defer c.Close()
	must(t, c.Set(t.Context(), "k", []byte("v"), 0))

	const deadline = 500 * time.Millisecond
	// Scheduling under the race detector on a busy machine; far below the
	// driver's own timeouts (server selection 5 s here, 30 s by default),
	// which is what a hang would last.
	const slack = 500 * time.Millisecond
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Set", func(ctx context.Context) error { return c.Set(ctx, "k", []byte("v"), 0) }},
		{"Get", func(ctx context.Context) error { _, err := c.Get(ctx, "k"); return err }},
		{"Has", func(ctx context.Context) error { _, err := c.Has(ctx, "k"); return err }},
		{"Add", func(ctx context.Context) error { _, err := c.Add(ctx, "k", []byte("v"), 0); return err }},
		{"GetMany", func(ctx context.Context) error { _, err := c.GetMany(ctx, []string{"k", "j"}); return err }},
		{"SetMany", func(ctx context.Context) error {
			return c.SetMany(ctx, map[string][]byte{"k": []byte("v"), "j": nil}, 0)
		}},
		{"Increment", func(ctx context.Context) error { _, err := c.Increment(ctx, "n", 1); return err }},
		{"DeleteMany", func(ctx context.Context) error { _, err := c.DeleteMany(ctx, []string{"j"}); return err }},
		{"DeleteExpired", func(ctx context.Context) error { _, err := c.DeleteExpired(ctx); return err }},
	}
	failAll := func(t *testing.T, want error) {
		t.Helper()
		for _, call := range calls {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			start := time.Now()
			err := call.call(ctx)
			took := time.Since(start)
			cancel()
			if err == nil {
				t.Errorf("%s succeeded through the fault", call.name)
				continue
			}
			t.Logf("%s: %v after %v", call.name, err, took)
			if took > deadline+slack {
				t.Errorf("%s took %v to fail, beyond its %v deadline", call.name, took, deadline)
			}
			if want != nil && !errors.Is(err, want) {
				t.Errorf("%s: %v, want an error matching %v", call.name, err, want)
			}
			if errors.Is(err, cache.ErrNotFound) {
				t.Errorf("%s reported a fault as a miss: %v", call.name, err)
			}
		}
	}
	works := func(t *testing.T) {
		t.Helper()
		// A key lock taken just before the fault outlives it by at most
		// the deadline of the call that took it.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for _, call := range calls {
			if err := call.call(ctx); err != nil {
				t.Fatalf("%s after Restore: %v", call.name, err)
			}
		}
		wantValue(t, c, "k", "v")
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
