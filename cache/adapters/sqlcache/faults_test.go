package sqlcache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// TestFaults puts a fault proxy between the adapter and each server: while
// the server is unreachable, every call ends with an error by its context's
// deadline (never a panic, a hang or a false miss), and the adapter works
// again once the network does.
func TestFaults(t *testing.T) {
	for _, b := range backends {
		if b.via == nil {
			continue // SQLite is a file: there is no network to break
		}
		t.Run(b.name, func(t *testing.T) {
			var proxy *faultproxy.Proxy
			db := b.via(t, func(upstream string) string {
				proxy = faultproxy.Start(t, upstream)
				return proxy.Addr()
			})
			c := newCache(t, db, sqlcache.WithTable(newTable(t, db)))
			t.Cleanup(func() { c.Close() })
			testFaults(t, c, proxy)
		})
	}
}

func testFaults(t *testing.T, c *sqlcache.Cache, proxy *faultproxy.Proxy) {
	must(t, c.Set(t.Context(), "k", []byte("v"), 0))
	const deadline = 300 * time.Millisecond
	// Scheduling under the race detector on two cores; far below what a
	// hang would last.
	const slack = 300 * time.Millisecond
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Set", func(ctx context.Context) error { return c.Set(ctx, "k", []byte("v"), 0) }},
		{"Get", func(ctx context.Context) error { _, err := c.Get(ctx, "k"); return err }},
		{"Has", func(ctx context.Context) error { _, err := c.Has(ctx, "k"); return err }},
		{"Add", func(ctx context.Context) error { _, err := c.Add(ctx, "a", []byte("v"), time.Millisecond); return err }},
		{"Delete", func(ctx context.Context) error { _, err := c.Delete(ctx, "gone"); return err }},
		{"Increment", func(ctx context.Context) error { _, err := c.Increment(ctx, "n", 1); return err }},
		{"GetMany", func(ctx context.Context) error { _, err := c.GetMany(ctx, []string{"k", "j"}); return err }},
		{"SetMany", func(ctx context.Context) error {
			return c.SetMany(ctx, map[string][]byte{"k": []byte("v"), "j": nil}, 0)
		}},
		{"DeleteMany", func(ctx context.Context) error { _, err := c.DeleteMany(ctx, []string{"x", "y"}); return err }},
		{"DeleteExpired", func(ctx context.Context) error { _, err := c.DeleteExpired(ctx); return err }},
		{"Clear", func(ctx context.Context) error { return c.Clear(ctx) }},
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
				t.Errorf("%s took %v to fail, beyond its %v deadline: %v", call.name, took, deadline, err)
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
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		for _, call := range calls {
			if err := call.call(ctx); err != nil {
				t.Fatalf("%s after Restore: %v", call.name, err)
			}
		}
		must(t, c.Set(ctx, "k", []byte("v"), 0))
		if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v" {
			t.Fatalf("Get after Restore = %q, %v; want \"v\"", v, err)
		}
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
