package memcachedcache_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memcachedcache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// faultTimeout is the client's Timeout in these tests: far longer than the
// contexts' deadlines, so that only the adapter can make calls end on time,
// and longer than the latency injected.
const faultTimeout = 3 * time.Second

// proxied returns a Cache whose client, with the given Timeout, reaches a
// real server through a fault proxy.
func proxied(t *testing.T, timeout time.Duration, opts ...memcachedcache.Option) (*memcachedcache.Cache, *faultproxy.Proxy, *memcache.Client) {
	t.Helper()
	p := faultproxy.Start(t, servers(t, 1)[0])
	client := memcache.New(p.Addr())
	client.Timeout = timeout
	t.Cleanup(func() { client.Close() })
	return newCache(t, client, append([]memcachedcache.Option{memcachedcache.WithPrefix(unique("faults"))}, opts...)...), p, client
}

// ops are every method, each a call that has to reach the server. A miss
// is an answer from the server, so it counts as working.
var ops = map[string]func(ctx context.Context, c *memcachedcache.Cache) error{
	"Get": func(ctx context.Context, c *memcachedcache.Cache) error {
		if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
			return err
		}
		return nil
	},
	"Has": func(ctx context.Context, c *memcachedcache.Cache) error { _, err := c.Has(ctx, "k"); return err },
	"Set": func(ctx context.Context, c *memcachedcache.Cache) error { return c.Set(ctx, "k", []byte("v"), 0) },
	"Add": func(ctx context.Context, c *memcachedcache.Cache) error {
		_, err := c.Add(ctx, "added", []byte("v"), time.Second)
		return err
	},
	"Delete": func(ctx context.Context, c *memcachedcache.Cache) error {
		_, err := c.Delete(ctx, "deleted")
		return err
	},
	"Increment": func(ctx context.Context, c *memcachedcache.Cache) error {
		_, err := c.Increment(ctx, "n", 1)
		return err
	},
	"GetMany": func(ctx context.Context, c *memcachedcache.Cache) error {
		_, err := c.GetMany(ctx, []string{"k", "n"})
		return err
	},
	"SetMany": func(ctx context.Context, c *memcachedcache.Cache) error {
		return c.SetMany(ctx, map[string][]byte{"a": nil, "b": nil}, 0)
	},
	"DeleteMany": func(ctx context.Context, c *memcachedcache.Cache) error {
		_, err := c.DeleteMany(ctx, []string{"a", "b"})
		return err
	},
	"Clear": func(ctx context.Context, c *memcachedcache.Cache) error { return c.Clear(ctx) },
}

// timed runs op with a context that ends after d and returns how long it
// took and its error.
func timed(c *memcachedcache.Cache, d time.Duration, op func(context.Context, *memcachedcache.Cache) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := op(ctx, c)
	return time.Since(start), err
}

// slack is how late past its deadline a call may return on a busy machine
// (under -race, with other tests using both cores, the scheduler has been
// seen to wake a goroutine 350 ms late). The faults below last far longer
// than deadline+slack, so a call that waits for them fails the test.
const slack = 400 * time.Millisecond

func wantWorking(t *testing.T, c *memcachedcache.Cache, when string) {
	t.Helper()
	for name, op := range ops {
		if _, err := timed(c, faultTimeout, op); err != nil {
			t.Errorf("%s %s: %v", name, when, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestFaults runs the fault checks every networked adapter shares. The
// client's Timeout is far beyond the deadline, so only the adapter can end
// the calls on time.
func TestFaults(t *testing.T) {
	const deadline = 300 * time.Millisecond
	c, p, _ := proxied(t, faultTimeout, memcachedcache.WithTimeout(deadline))
	cachetest.RunFaults(t, c, p, deadline)
}

// A call slower than the network but within its deadline works: running it
// on a goroutine that watches the deadline does not end it early. The
// deadline allows for two commands, in case the generation is due to be
// read again.
func TestSlowButInTime(t *testing.T) {
	c, p, _ := proxied(t, faultTimeout)
	wantWorking(t, c, "through the proxy")
	const latency = time.Second
	p.Latency(latency)
	defer p.Restore()
	took, err := timed(c, 2*faultTimeout, ops["Get"])
	if err != nil || took < latency {
		t.Errorf("Get through %v of latency with a %v deadline: %v after %v; want a miss after the latency", latency, 2*faultTimeout, err, took)
	}
}

// Without a deadline that the client's Timeout could overrun, a call runs
// on the caller's goroutine: a cancellation is seen when the command in
// flight ends, bounded by the Timeout, and the error says both. A call
// sends two commands at most here: reading the generation (when its
// refresh interval has passed) and its own.
func TestFaultsWithoutNearDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	c, p, _ := proxied(t, timeout)
	bound := 2*timeout + slack
	wantWorking(t, c, "through the proxy")
	p.Blackhole()
	defer p.Restore()

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Get(ctx, "k")
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, os.ErrDeadlineExceeded) || took > bound {
		t.Errorf("Get cancelled while its command waits: %v after %v; want context.Canceled and the client's i/o timeout within %v", err, took, bound)
	}

	// A deadline further than ten Timeouts: the client's Timeout ends
	// the command long before it.
	took, err = timed(c, 20*timeout, ops["Set"])
	if err == nil || errors.Is(err, context.DeadlineExceeded) || took > bound {
		t.Errorf("Set with a distant deadline: %v after %v; want the client's i/o timeout within %v", err, took, bound)
	}
}

// Close waits for calls abandoned by their context, so no goroutine of the
// adapter outlives it, and leaves the caller's client usable.
func TestCloseWaitsForAbandonedCalls(t *testing.T) {
	c, p, client := proxied(t, faultTimeout)
	if err := c.Set(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	_, err := timed(c, 50*time.Millisecond, ops["Get"])
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get into a black hole: %v", err)
	}
	// Restore once Close is waiting: the abandoned Get then fails and ends.
	restored := make(chan struct{})
	go func() {
		defer close(restored)
		time.Sleep(200 * time.Millisecond)
		p.Restore()
	}()
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waited := time.Since(start)
	t.Logf("Close waited %v for the abandoned call", waited.Round(time.Millisecond))
	if waited < 150*time.Millisecond {
		t.Errorf("Close returned after %v, before the restore ended the abandoned call", waited)
	}
	<-restored
	// When Close returns, the call's goroutine has signalled that it is
	// done but may not have exited yet: it must not be inside gomemcache
	// any more, and it must be gone a moment later.
	if stacks := adapterGoroutines(); strings.Contains(stacks, "gomemcache") {
		t.Fatalf("a call of the adapter still runs after Close:\n%s", stacks)
	}
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		stacks := adapterGoroutines()
		if stacks == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a goroutine of the adapter outlived Close by a second:\n%s", stacks)
		}
	}
	if _, err := c.Get(t.Context(), "k"); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if err := client.Set(&memcache.Item{Key: unique("after-close"), Value: []byte("v")}); err != nil {
		t.Fatalf("the client after Close: %v", err)
	}
}

// When the server drops every connection (as when it restarts), the idle
// connections gomemcache keeps are dead, which it learns only by using
// them. Commands that may run twice with the same outcome are sent again,
// so none of them fails. A delete is not: on a dead connection, it looks
// just like a delete whose reply was lost after the server ran it, so
// Delete reports that it may have deleted the entry (cache.ErrUncertain),
// never that none existed.
func TestDroppedIdleConnections(t *testing.T) {
	c, p, _ := proxied(t, faultTimeout)
	for range 3 {
		// Calls at once leave the client's pool full of idle connections.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { wantWorking(t, c, "before the drop") })
		}
		wg.Wait()
		if err := c.Set(t.Context(), "victim", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		p.Cut()
		p.Restore()
		var existed bool
		_, err := timed(c, faultTimeout, func(ctx context.Context, c *memcachedcache.Cache) (err error) {
			existed, err = c.Delete(ctx, "victim")
			return err
		})
		if !existed && !errors.Is(err, cache.ErrUncertain) {
			t.Fatalf("Delete of an entry after the server dropped its connections: %v, %v; want true, or cache.ErrUncertain", existed, err)
		}
		for _, name := range []string{"Get", "Has", "Set", "GetMany", "SetMany", "Clear"} {
			if _, err := timed(c, faultTimeout, ops[name]); err != nil {
				t.Fatalf("%s after the server dropped its connections: %v", name, err)
			}
		}
	}
}

// Increment's other commands meet lost replies too: the compare-and-swap
// of a negative delta, and the add that creates a missing counter. Neither
// is sent again, and the error says that the increment may have been made:
// it was, once.
func TestIncrementLostReplies(t *testing.T) {
	c, p, _ := proxied(t, faultTimeout)
	for _, tc := range []struct {
		name, command string
		before        []byte // nil: no entry
		want          string
	}{
		{"cas", "cas ", []byte("100"), "99"},
		{"create", "add ", nil, "-1"},
	} {
		key := "lost-" + tc.name
		if tc.before == nil {
			if _, err := c.Delete(t.Context(), key); err != nil {
				t.Fatal(err)
			}
		} else if err := c.Set(t.Context(), key, tc.before, 0); err != nil {
			t.Fatal(err)
		}
		lost := p.LoseReplyTo(tc.command, false)
		n, err := c.Increment(t.Context(), key, -1)
		p.Restore()
		if !lost() {
			t.Fatalf("%s: no reply to %q was lost (%d, %v)", tc.name, tc.command, n, err)
		}
		if !errors.Is(err, cache.ErrUncertain) {
			t.Errorf("%s: Increment whose %q got no reply: %d, %v; want an error matching cache.ErrUncertain", tc.name, tc.command, n, err)
		}
		cachetest.WantValue(t, c, key, tc.want)
	}
}

// The per-call timeout is calltimeout.Default unless WithTimeout says
// otherwise, and it must bound something.
func TestTimeoutOption(t *testing.T) {
	client := memcache.New("127.0.0.1:1")
	c, err := memcachedcache.New(client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := memcachedcache.Timeout(c); got != calltimeout.Default {
		t.Errorf("default timeout %v, want %v", got, calltimeout.Default)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := memcachedcache.New(client, memcachedcache.WithTimeout(d)); err == nil {
			t.Errorf("New accepted WithTimeout(%v)", d)
		}
	}
}

// A Set abandoned at its deadline still sends the value it was given, not
// what the caller writes into the slice once Set has returned.
func TestAbandonedSetOwnsItsValue(t *testing.T) {
	p := faultproxy.Start(t, servers(t, 1)[0])
	client := memcache.New(p.Addr())
	client.Timeout = faultTimeout
	prefix := unique("owned")
	c := newCache(t, client, memcachedcache.WithPrefix(prefix))
	wantWorking(t, c, "through the proxy")

	p.Latency(300 * time.Millisecond)
	value := []byte("original")
	took, err := timed(c, 50*time.Millisecond, func(ctx context.Context, c *memcachedcache.Cache) error {
		return c.Set(ctx, "owned", value, 0)
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set slower than its deadline: %v after %v", err, took)
	}
	copy(value, "CHANGED!")
	// The abandoned Set lands when its reply comes; Close waits for it.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	p.Restore()
	cachetest.WantValue(t, newCache(t, client, memcachedcache.WithPrefix(prefix)), "owned", "original")
}

// adapterGoroutines returns the stacks of the goroutines started by the
// adapter's watched calls, or "" when there are none.
func adapterGoroutines() string {
	buf := make([]byte, 1<<20)
	var found []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "created by github.com/cachelib-go/cachelib/cache/adapters/memcachedcache.run") {
			found = append(found, g)
		}
	}
	return strings.Join(found, "\n\n")
}
