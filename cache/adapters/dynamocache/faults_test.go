package dynamocache_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// ops are every method, each a call that has to reach the server. A miss
// is an answer from the server, so it counts as working.
var ops = []struct {
	name string
	call func(ctx context.Context, c *dynamocache.Cache) error
}{
	{"Set", func(ctx context.Context, c *dynamocache.Cache) error { return c.Set(ctx, "k", []byte("v"), 0) }},
	{"Get", func(ctx context.Context, c *dynamocache.Cache) error {
		if _, err := c.Get(ctx, "missing"); !errors.Is(err, cache.ErrNotFound) {
			return err
		}
		return nil
	}},
	{"Has", func(ctx context.Context, c *dynamocache.Cache) error { _, err := c.Has(ctx, "k"); return err }},
	{"Add", func(ctx context.Context, c *dynamocache.Cache) error {
		_, err := c.Add(ctx, "added", []byte("v"), time.Millisecond)
		return err
	}},
	{"Delete", func(ctx context.Context, c *dynamocache.Cache) error { _, err := c.Delete(ctx, "deleted"); return err }},
	{"Increment", func(ctx context.Context, c *dynamocache.Cache) error { _, err := c.Increment(ctx, "n", 1); return err }},
	{"GetMany", func(ctx context.Context, c *dynamocache.Cache) error {
		_, err := c.GetMany(ctx, []string{"k", "n"})
		return err
	}},
	{"SetMany", func(ctx context.Context, c *dynamocache.Cache) error {
		return c.SetMany(ctx, map[string][]byte{"a": nil, "b": []byte("v")}, 0)
	}},
	{"DeleteMany", func(ctx context.Context, c *dynamocache.Cache) error {
		_, err := c.DeleteMany(ctx, []string{"a", "b"})
		return err
	}},
	{"Clear", func(ctx context.Context, c *dynamocache.Cache) error { return c.Clear(ctx) }},
	{"DeleteExpired", func(ctx context.Context, c *dynamocache.Cache) error { _, err := c.DeleteExpired(ctx); return err }},
}

// Faults between the adapter and a real server, injected by a proxy: every
// call ends with an error by its context's deadline, although the SDK
// retries (three attempts, with backoffs of up to 20 s), and the adapter
// works again once the network does.
func TestFaults(t *testing.T) {
	direct := newClient(endpoint(t))
	table := newTable(t, direct)
	u, _ := url.Parse(endpoint(t))
	proxy := faultproxy.Start(t, u.Host)
	c := newCache(t, newClient("http://"+proxy.Addr()), table, dynamocache.WithPrefix(prefix()))

	const deadline = 300 * time.Millisecond
	// Scheduling under the race detector on two cores; far below what a
	// hang would last (the SDK's dial timeout is 30 s).
	const slack = 250 * time.Millisecond
	failAll := func(t *testing.T, want error) {
		t.Helper()
		for _, op := range ops {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			start := time.Now()
			err := op.call(ctx, c)
			took := time.Since(start)
			cancel()
			switch {
			case err == nil:
				t.Errorf("%s succeeded through the fault", op.name)
			case took > deadline+slack:
				t.Errorf("%s took %v to fail, beyond its %v deadline: %v", op.name, took, deadline, err)
			case want != nil && !errors.Is(err, want):
				t.Errorf("%s: %v, want an error matching %v", op.name, err, want)
			case errors.Is(err, cache.ErrNotFound):
				t.Errorf("%s reported a fault as a miss: %v", op.name, err)
			default:
				t.Logf("%s: failed after %v: %v", op.name, took.Round(time.Millisecond), err)
			}
		}
	}
	works := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for _, op := range ops {
			if err := op.call(ctx, c); err != nil {
				t.Fatalf("%s after Restore: %v", op.name, err)
			}
		}
		if err := c.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v" {
			t.Fatalf("Get after Restore = %q, %v; want \"v\"", v, err)
		}
	}

	works(t)
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
