package cachetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// LoseNextReply passes requests to the server but drops the next
	// reply and closes its connection; lost reports whether it has.
	LoseNextReply() (lost func() bool)
	Restore() // undo the above
}

// RunFaults checks an adapter of a networked backend while net breaks its
// connection. The adapter must have been made with its per-call timeout
// (the bound it applies when a context has no deadline) set to deadline.
//
// Rules, each a subtest:
//
//   - cut, blackhole, latency: every method, called with a context that
//     ends after deadline, fails with an error by then (plus the larger of
//     deadline and one second, for scheduling under the race detector on a
//     busy machine, still far below a client's own timeouts, which is what
//     a call that ignored its context would take): it never succeeds,
//     hangs, panics or reports a miss; a black hole or latency must give
//     context.DeadlineExceeded. Once net is restored, every method works
//     again within ten seconds.
//   - blackhole-no-deadline: the same with context.Background(): the
//     adapter's own timeout must end every call.
//   - lost-reply, late-reply: each write (Set, Add, Delete, Increment,
//     SetMany, DeleteMany) is made while the server applies it but its
//     reply is lost (the connection closes first) or arrives after the
//     deadline. The write must be applied at most once, and the call must
//     report the truth, or an error matching cache.ErrUncertain, or a
//     different error with the write not applied.
func RunFaults(t *testing.T, a cache.Adapter, net Network, deadline time.Duration) {
	ops := faultOps(a)
	failAll := func(t *testing.T, newCtx func() (context.Context, context.CancelFunc), want error) {
		t.Helper()
		for _, op := range ops {
			ctx, cancel := newCtx()
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
			case errors.Is(err, cache.ErrUncertain) && !op.write:
				t.Errorf("%s is a read but reported %v", op.name, err)
			default:
				t.Logf("%s failed after %v: %v", op.name, took.Round(time.Millisecond), err)
			}
		}
	}
	withDeadline := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(t.Context(), deadline)
	}
	noDeadline := func() (context.Context, context.CancelFunc) {
		return context.Background(), func() {}
	}

	works(t, a, ops)
	for _, f := range []struct {
		name   string
		inject func()
		ctx    func() (context.Context, context.CancelFunc)
		want   error
	}{
		{"cut", net.Cut, withDeadline, nil},
		{"blackhole", net.Blackhole, withDeadline, context.DeadlineExceeded},
		{"blackhole-no-deadline", net.Blackhole, noDeadline, context.DeadlineExceeded},
		{"latency", func() { net.Latency(2 * deadline) }, withDeadline, context.DeadlineExceeded},
	} {
		t.Run(f.name, func(t *testing.T) {
			f.inject()
			failAll(t, f.ctx, f.want)
			net.Restore()
			works(t, a, ops)
		})
	}
	t.Run("lost-reply", func(t *testing.T) {
		for _, w := range writeCases(a) {
			t.Run(w.name, func(t *testing.T) {
				w.check(t, a, net.LoseNextReply, net.Restore, deadline)
			})
		}
	})
	t.Run("late-reply", func(t *testing.T) {
		for _, w := range writeCases(a) {
			t.Run(w.name, func(t *testing.T) {
				w.check(t, a, func() func() bool {
					net.Latency(2 * deadline)
					return nil
				}, net.Restore, deadline)
			})
		}
	})
}

// works waits until every operation succeeds again. Clients reconnect at
// their own pace: each call may be retried until the recovery window ends,
// but each must succeed in the end. A miss is an answer from the server, so
// it counts as working.
func works(t *testing.T, a cache.Adapter, ops []faultOp) {
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

type faultOp struct {
	name  string
	write bool
	call  func(ctx context.Context) error
}

// faultOps is every method of a, including the capabilities it has.
func faultOps(a cache.Adapter) []faultOp {
	ops := []faultOp{
		{"Set", true, func(ctx context.Context) error { return a.Set(ctx, "k", []byte("v"), 0) }},
		{"Get", false, func(ctx context.Context) error { _, err := a.Get(ctx, "k"); return err }},
		{"View", false, func(ctx context.Context) error {
			return cache.View(ctx, a, "k", func([]byte) error { return nil })
		}},
		{"Has", false, func(ctx context.Context) error { _, err := a.Has(ctx, "k"); return err }},
		{"Add", true, func(ctx context.Context) error {
			_, err := a.Add(ctx, "a", []byte("v"), time.Millisecond)
			return err
		}},
		{"Delete", true, func(ctx context.Context) error { _, err := a.Delete(ctx, "gone"); return err }},
		{"GetMany", false, func(ctx context.Context) error {
			_, err := cache.GetMany(ctx, a, []string{"k", "j"})
			return err
		}},
		{"SetMany", true, func(ctx context.Context) error {
			return cache.SetMany(ctx, a, map[string][]byte{"k": []byte("v"), "j": nil}, 0)
		}},
		{"DeleteMany", true, func(ctx context.Context) error {
			_, err := cache.DeleteMany(ctx, a, []string{"x", "y"})
			return err
		}},
		{"Clear", true, func(ctx context.Context) error { return a.Clear(ctx) }},
	}
	if _, ok := a.(cache.Incrementer); ok {
		ops = append(ops, faultOp{"Increment", true, func(ctx context.Context) error {
			_, err := cache.Increment(ctx, a, "n", 1)
			return err
		}})
	}
	if s, ok := a.(cache.Sweeper); ok {
		ops = append(ops, faultOp{"DeleteExpired", true, func(ctx context.Context) error {
			_, err := s.DeleteExpired(ctx)
			return err
		}})
	}
	if g, ok := a.(cache.TTLGetter); ok {
		ops = append(ops, faultOp{"GetWithTTL", false, func(ctx context.Context) error {
			_, _, err := g.GetWithTTL(ctx, "k")
			return err
		}})
	}
	return ops
}

// A writeCase is a write whose reply a fault takes away: the keys it works
// on, what they hold before and after it is applied once, and what the call
// reports when it works. A missing entry is held as "<miss>".
type writeCase struct {
	name          string
	keys          []string
	before, after []string
	call          func(ctx context.Context) (any, error)
	want          any
}

const missing = "<miss>"

func writeCases(a cache.Adapter) []writeCase {
	keys := func(name string, n int) []string {
		ks := make([]string, n)
		for i := range ks {
			ks[i] = fmt.Sprintf("reply/%s/%d", name, i)
		}
		return ks
	}
	set, add, del, inc := keys("Set", 1), keys("Add", 1), keys("Delete", 1), keys("Increment", 1)
	setMany, delMany := keys("SetMany", 2), keys("DeleteMany", 2)
	cases := []writeCase{
		{"Set", set, []string{"old"}, []string{"new"}, func(ctx context.Context) (any, error) {
			return nil, a.Set(ctx, set[0], []byte("new"), 0)
		}, nil},
		{"Add", add, []string{missing}, []string{"new"}, func(ctx context.Context) (any, error) {
			return a.Add(ctx, add[0], []byte("new"), 0)
		}, true},
		{"Delete", del, []string{"old"}, []string{missing}, func(ctx context.Context) (any, error) {
			return a.Delete(ctx, del[0])
		}, true},
		{"SetMany", setMany, []string{"old", "old"}, []string{"new", "new"}, func(ctx context.Context) (any, error) {
			return nil, cache.SetMany(ctx, a, map[string][]byte{setMany[0]: []byte("new"), setMany[1]: []byte("new")}, 0)
		}, nil},
		{"DeleteMany", delMany, []string{"old", "old"}, []string{missing, missing}, func(ctx context.Context) (any, error) {
			return cache.DeleteMany(ctx, a, delMany)
		}, 2},
	}
	if _, ok := a.(cache.Incrementer); ok {
		cases = append(cases, writeCase{"Increment", inc, []string{"100"}, []string{"101"}, func(ctx context.Context) (any, error) {
			return cache.Increment(ctx, a, inc[0], 1)
		}, int64(101)})
	}
	return cases
}

// check stores the state before the write, injects the fault, makes the
// call, restores the network and judges the call by what the keys hold.
// inject returns a function that reports whether the fault struck, or nil
// when it always does.
func (w writeCase) check(t *testing.T, a cache.Adapter, inject func() (struck func() bool), restore func(), deadline time.Duration) {
	t.Helper()
	for i, k := range w.keys {
		if w.before[i] == missing {
			retry(t, "Delete "+k, func(ctx context.Context) error { _, err := a.Delete(ctx, k); return err })
		} else {
			retry(t, "Set "+k, func(ctx context.Context) error { return a.Set(ctx, k, []byte(w.before[i]), 0) })
		}
	}
	// A read first, so that the write goes out on a connection that is
	// already open and the fault takes the write's own reply.
	retry(t, "Get", func(ctx context.Context) error {
		_, err := a.Get(ctx, w.keys[0])
		if errors.Is(err, cache.ErrNotFound) {
			return nil
		}
		return err
	})
	struck := inject()
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	got, err := w.call(ctx)
	cancel()
	if struck != nil && !struck() {
		restore()
		t.Fatalf("%s: no reply passed through the proxy while the call ran (%v, %v)", w.name, got, err)
	}
	restore()
	state := w.read(t, a)
	applied, untouched := slices.Equal(state, w.after), slices.Equal(state, w.before)
	t.Logf("%s reported %v, %v; the keys hold %q", w.name, got, err, state)
	switch {
	case err == nil && (got != w.want || !applied):
		t.Errorf("%s reported %v, nil through the fault, and the keys hold %q: want %v with %q, or an error matching cache.ErrUncertain",
			w.name, got, state, w.want, w.after)
	case errors.Is(err, cache.ErrUncertain) && !w.eachOnce(state):
		t.Errorf("%s: %v, and the keys hold %q: want each key at %q or %q (the write applied at most once)",
			w.name, err, state, w.before, w.after)
	case err != nil && !errors.Is(err, cache.ErrUncertain) && !untouched:
		t.Errorf("%s: %v, which does not match cache.ErrUncertain, but the write was applied: the keys hold %q, before it %q",
			w.name, err, state, w.before)
	}
}

// eachOnce reports whether every key holds its value from before or after
// the write: a batch may have been applied in part.
func (w writeCase) eachOnce(state []string) bool {
	for i, s := range state {
		if s != w.before[i] && s != w.after[i] {
			return false
		}
	}
	return true
}

// read returns what the keys hold.
func (w writeCase) read(t *testing.T, a cache.Adapter) []string {
	t.Helper()
	state := make([]string, len(w.keys))
	for i, k := range w.keys {
		retry(t, "Get "+k, func(ctx context.Context) error {
			v, err := a.Get(ctx, k)
			switch {
			case errors.Is(err, cache.ErrNotFound):
				state[i] = missing
				return nil
			case err == nil:
				state[i] = string(v)
			}
			return err
		})
	}
	return state
}

// retry calls op until it succeeds, for ten seconds, as a healthy network
// may need a moment to reconnect.
func retry(t *testing.T, name string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		err := op(ctx)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s still failing after 10 s: %v", name, strings.TrimSpace(err.Error()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
