package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// Network breaks and mends the connection between an adapter and its
// server; internal/faultproxy.Proxy is one, a real TCP proxy in front of a
// real server.
type Network interface {
	Cut()                    // refuse and drop every connection
	Blackhole()              // accept, then never answer
	Latency(d time.Duration) // delay every reply by d
	Restore()                // undo the above
}

// RunFaults checks an adapter of a networked backend while net breaks its
// connection: cut, black-holed, and slower than the call's deadline. Every
// method must fail with an error by deadline (plus the larger of deadline
// and one second, for scheduling under the race detector on a busy machine,
// still far below a client's own timeouts, which is what a call that
// ignored its context would take): never succeed, hang, panic or report
// a miss; a black hole or latency must give context.DeadlineExceeded. Once
// net is restored, every method works again within ten seconds.
func RunFaults(t *testing.T, a cache.Adapter, net Network, deadline time.Duration) {
	ops := faultOps(a)
	failAll := func(t *testing.T, want error) {
		t.Helper()
		for _, op := range ops {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			start := time.Now()
			err := op.call(ctx)
			took := time.Since(start)
			cancel()
			switch {
			case err == nil:
				t.Errorf("%s succeeded through the fault", op.name)
			case took > deadline+max(deadline, time.Second):
				t.Errorf("%s took %v to fail, beyond its %v deadline: %v", op.name, took, deadline, err)
			case want != nil && !errors.Is(err, want):
				t.Errorf("%s: %v, want an error matching %v", op.name, err, want)
			case errors.Is(err, cache.ErrNotFound):
				t.Errorf("%s reported a fault as a miss: %v", op.name, err)
			default:
				t.Logf("%s failed after %v: %v", op.name, took.Round(time.Millisecond), err)
			}
		}
	}
	// Clients reconnect at their own pace: each call may be retried until
	// the recovery window ends, but each must succeed in the end. A miss is
	// an answer from the server, so it counts as working.
	works := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for _, op := range ops {
			for err := op.call(ctx); err != nil && !errors.Is(err, cache.ErrNotFound); err = op.call(ctx) {
				if ctx.Err() != nil {
					t.Fatalf("%s still failing 10 s after Restore: %v", op.name, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		set(t, a, "k", "v", 0)
		WantValue(t, a, "k", "v")
	}

	works(t)
	for _, f := range []struct {
		name   string
		inject func()
		want   error
	}{
		{"cut", net.Cut, nil},
		{"blackhole", net.Blackhole, context.DeadlineExceeded},
		{"latency", func() { net.Latency(2 * deadline) }, context.DeadlineExceeded},
	} {
		t.Run(f.name, func(t *testing.T) {
			f.inject()
			failAll(t, f.want)
			net.Restore()
			works(t)
		})
	}
}

type faultOp struct {
	name string
	call func(ctx context.Context) error
}

// faultOps is every method of a, including the capabilities it has.
func faultOps(a cache.Adapter) []faultOp {
	ops := []faultOp{
		{"Set", func(ctx context.Context) error { return a.Set(ctx, "k", []byte("v"), 0) }},
		{"Get", func(ctx context.Context) error { _, err := a.Get(ctx, "k"); return err }},
		{"View", func(ctx context.Context) error {
			return cache.View(ctx, a, "k", func([]byte) error { return nil })
		}},
		{"Has", func(ctx context.Context) error { _, err := a.Has(ctx, "k"); return err }},
		{"Add", func(ctx context.Context) error { _, err := a.Add(ctx, "a", []byte("v"), time.Millisecond); return err }},
		{"Delete", func(ctx context.Context) error { _, err := a.Delete(ctx, "gone"); return err }},
		{"GetMany", func(ctx context.Context) error { _, err := cache.GetMany(ctx, a, []string{"k", "j"}); return err }},
		{"SetMany", func(ctx context.Context) error {
			return cache.SetMany(ctx, a, map[string][]byte{"k": []byte("v"), "j": nil}, 0)
		}},
		{"DeleteMany", func(ctx context.Context) error { _, err := cache.DeleteMany(ctx, a, []string{"x", "y"}); return err }},
		{"Clear", func(ctx context.Context) error { return a.Clear(ctx) }},
	}
	if _, ok := a.(cache.Incrementer); ok {
		ops = append(ops, faultOp{"Increment", func(ctx context.Context) error {
			_, err := cache.Increment(ctx, a, "n", 1)
			return err
		}})
	}
	if s, ok := a.(cache.Sweeper); ok {
		ops = append(ops, faultOp{"DeleteExpired", func(ctx context.Context) error {
			_, err := s.DeleteExpired(ctx)
			return err
		}})
	}
	if g, ok := a.(cache.TTLGetter); ok {
		ops = append(ops, faultOp{"GetWithTTL", func(ctx context.Context) error {
			_, _, err := g.GetWithTTL(ctx, "k")
			return err
		}})
	}
	return ops
}
