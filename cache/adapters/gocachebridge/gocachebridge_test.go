package gocachebridge_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/gocachebridge"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"github.com/cachelib-go/cachelib/session/sessiontest"
	"github.com/dgraph-io/ristretto/v2"
	gocache "github.com/eko/gocache/lib/v4/cache"
	"github.com/eko/gocache/lib/v4/store"
	redisstore "github.com/eko/gocache/store/redis/v4"
	ristrettostore "github.com/eko/gocache/store/ristretto/v4"
	"github.com/redis/go-redis/v9"
)

// newRistretto returns a private gocache Ristretto store, closed when the
// test ends (after the adapter on it, whose cleanup runs first).
func newRistretto(t testing.TB) *ristrettostore.RistrettoStore[string, any] {
	t.Helper()
	rc, err := ristretto.NewCache(&ristretto.Config[string, any]{
		NumCounters: 1e5,
		MaxCost:     1 << 30,
		BufferItems: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	return ristrettostore.NewRistretto[string, any](rc)
}

func TestConformanceRistretto(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Adapter {
		// The store is the adapter's alone, so Clear may empty it.
		return gocachebridge.FromStore(newRistretto(t), gocachebridge.WithClear())
	})
}

func newRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	client := redis.NewClient(&redis.Options{
		Addr:                  testenv.Addr(t, "CACHELIB_REDIS_ADDR", "127.0.0.1:6390"),
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { client.Close() })
	return client
}

var prefixes atomic.Int64

// redisPrefix returns a key prefix no other test uses, and deletes its keys
// when the test ends.
func redisPrefix(t *testing.T, client *redis.Client) string {
	p := fmt.Sprintf("gocachebridge-%d-%d-%d:", os.Getpid(), time.Now().UnixNano(), prefixes.Add(1))
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("removing the test's keys: %v", err)
		}
	})
	return p
}

func TestConformanceRedis(t *testing.T) {
	client := newRedisClient(t)
	st := redisstore.NewRedis(client)
	cachetest.Run(t, func(t *testing.T) cache.Adapter {
		return gocachebridge.FromStore(st, gocachebridge.WithKeyPrefix(redisPrefix(t, client)))
	},
		// gocache's Clear on Redis is FLUSHALL, which the bridge refuses.
		cachetest.WithoutClear(),
	)
}

// A Set on a Redis store whose reply comes after the deadline was applied:
// the bridge cannot tell that from a refusal, so it must report the outcome
// as unknown, never as a plain failure. (Add and Delete on this store read
// first, and a failed read is a plain error: nothing was written.)
func TestLateReplyIsUncertain(t *testing.T) {
	proxy := faultproxy.Start(t, testenv.Addr(t, "CACHELIB_REDIS_ADDR", "127.0.0.1:6390"))
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	a := gocachebridge.FromStore(redisstore.NewRedis(client), gocachebridge.WithKeyPrefix(redisPrefix(t, client)))
	defer a.Close()
	proxy.Latency(time.Second)
	defer proxy.Restore()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := a.Set(ctx, "k", []byte("v"), 0); !errors.Is(err, cache.ErrUncertain) {
		t.Errorf("Set with a late reply = %v, want an error matching cache.ErrUncertain", err)
	}
}

func TestSessions(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) cache.Adapter {
		return gocachebridge.FromStore(newRistretto(t), gocachebridge.WithClear())
	})
}

func TestClearNeedsOptIn(t *testing.T) {
	ctx := t.Context()
	a := gocachebridge.FromStore(newRistretto(t))
	defer a.Close()
	if err := a.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	err := a.Clear(ctx)
	if !errors.Is(err, gocachebridge.ErrClearUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Clear without WithClear = %v, want ErrClearUnsupported", err)
	}
	if v, err := a.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("after a refused Clear, Get = %q, %v", v, err)
	}
}

func TestForeignValueIsAnError(t *testing.T) {
	ctx := t.Context()
	st := newRistretto(t)
	a := gocachebridge.FromStore(st)
	defer a.Close()
	if err := st.Set(ctx, "n", 42, store.WithSynchronousSet()); err != nil {
		t.Fatal(err)
	}
	v, err := a.Get(ctx, "n")
	if !errors.Is(err, gocachebridge.ErrUnexpectedValue) || v != nil {
		t.Fatalf("Get of an int = %v, %v; want ErrUnexpectedValue", v, err)
	}
}

func TestGetWithTTL(t *testing.T) {
	client := newRedisClient(t)
	// gocache's Redis store reports whole seconds: an entry with less than
	// half a second left would read as "never expires".
	if _, ok := gocachebridge.FromStore(redisstore.NewRedis(client)).(cache.TTLGetter); ok {
		t.Error("the bridge on gocache's Redis store claims cache.TTLGetter, but the store reads TTLs in whole seconds")
	}
	for name, a := range map[string]cache.Adapter{
		"ristretto": gocachebridge.FromStore(newRistretto(t)),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			defer a.Close()
			g, ok := a.(cache.TTLGetter)
			if !ok {
				t.Fatalf("%T is not a cache.TTLGetter", a)
			}
			if err := a.Set(ctx, "ttl", []byte("v"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := a.Set(ctx, "forever", []byte("v"), 0); err != nil {
				t.Fatal(err)
			}
			if v, ttl, err := g.GetWithTTL(ctx, "ttl"); err != nil || string(v) != "v" || ttl <= 59*time.Minute || ttl > time.Hour {
				t.Fatalf("GetWithTTL(ttl) = %q, %v, %v; want v, about an hour", v, ttl, err)
			}
			if v, ttl, err := g.GetWithTTL(ctx, "forever"); err != nil || string(v) != "v" || ttl != 0 {
				t.Fatalf("GetWithTTL(forever) = %q, %v, %v; want v, 0", v, ttl, err)
			}
			if _, _, err := g.GetWithTTL(ctx, "missing"); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("GetWithTTL(missing) = %v, want ErrNotFound", err)
			}
		})
	}
}

// typed is a store of a given type that records the expiration of each Set,
// to check what the bridge sends to stores it cannot run here.
type typed struct {
	typ string
	mu  sync.Mutex
	exp map[string]time.Duration
}

func (s *typed) Get(_ context.Context, key any) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.exp[key.(string)]; ok {
		return []byte("v"), nil
	}
	return nil, store.NotFoundWithCause(errors.New("empty"))
}
func (s *typed) GetWithTTL(context.Context, any) (any, time.Duration, error) {
	return nil, 0, store.NotFoundWithCause(errors.New("empty"))
}
func (s *typed) Set(_ context.Context, key, _ any, opts ...store.Option) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exp[key.(string)] = store.ApplyOptions(opts...).Expiration
	return nil
}
func (s *typed) Delete(context.Context, any) error                           { return nil }
func (s *typed) Invalidate(context.Context, ...store.InvalidateOption) error { return nil }
func (s *typed) Clear(context.Context) error                                 { return nil }
func (s *typed) GetType() string                                             { return s.typ }

func TestExpirationPerStore(t *testing.T) {
	const month = 31 * 24 * time.Hour
	for _, tc := range []struct {
		typ  string
		ttl  time.Duration
		want time.Duration // sent as the expiration
		err  error         // or refused
	}{
		{"ristretto", 0, 0, nil},
		{"ristretto", time.Nanosecond, time.Millisecond, nil},
		{"redis", 0, 0, nil},
		{"redis", 1500 * time.Microsecond, 2 * time.Millisecond, nil},
		{"go-cache", 0, -1, nil}, // go-cache's 0 is its default expiry
		{"go-cache", time.Nanosecond, time.Nanosecond, nil},
		{"memcache", 0, 0, nil},
		{"memcache", time.Millisecond, time.Second, nil}, // not truncated to 0
		{"memcache", month, 0, errors.ErrUnsupported},    // read as a Unix time
		{"bigcache", time.Second, 0, errors.ErrUnsupported},
		{"unknown", 300 * time.Millisecond, time.Second, nil},
	} {
		s := &typed{typ: tc.typ, exp: map[string]time.Duration{}}
		a := gocachebridge.FromStore(s)
		err := a.Set(t.Context(), "k", []byte("v"), tc.ttl)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || len(s.exp) != 0 {
				t.Errorf("%s store, ttl %v: Set = %v, sent %v; want %v and nothing sent", tc.typ, tc.ttl, err, s.exp, tc.err)
			}
			continue
		}
		if got, ok := s.exp["k"]; err != nil || !ok || got != tc.want {
			t.Errorf("%s store, ttl %v: Set = %v, sent expiration %v; want %v", tc.typ, tc.ttl, err, got, tc.want)
		}
	}
}

func newMemory(t *testing.T) *memorycache.Cache {
	t.Helper()
	m, err := memorycache.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// gocache's own caches, on our adapters.
func TestGocacheOnToStore(t *testing.T) {
	ctx := t.Context()
	t.Run("Cache", func(t *testing.T) {
		c := gocache.New[[]byte](gocachebridge.ToStore(newMemory(t)))
		if err := c.Set(ctx, "k", []byte("v"), store.WithExpiration(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		// A key that is not a string goes through gocache's checksum.
		if err := c.Set(ctx, struct{ ID int }{7}, []byte("struct key")); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, struct{ ID int }{7}); err != nil || string(v) != "struct key" {
			t.Fatalf("Get(struct key) = %q, %v", v, err)
		}
		if added, err := c.SetIfNotExists(ctx, "k", []byte("other")); err != nil || added {
			t.Fatalf("SetIfNotExists(present) = %v, %v", added, err)
		}
		if added, err := c.SetIfNotExists(ctx, "fresh", []byte("w")); err != nil || !added {
			t.Fatalf("SetIfNotExists(absent) = %v, %v", added, err)
		}
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "k"); !errors.Is(err, store.NotFound{}) || !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want a gocache NotFound that is also cache.ErrNotFound", err)
		}
		if err := c.Set(ctx, "tagged", []byte("v"), store.WithTags([]string{"t"})); !errors.Is(err, store.ErrNotSupported) {
			t.Fatalf("Set with tags = %v, want store.ErrNotSupported", err)
		}
		if err := c.Set(ctx, "neg", []byte("v"), store.WithExpiration(-time.Second)); !errors.Is(err, cache.ErrInvalidTTL) {
			t.Fatalf("Set with a negative expiration = %v, want cache.ErrInvalidTTL", err)
		}
		if err := c.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "fresh"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get after Clear = %v", err)
		}
	})
	t.Run("Chain", func(t *testing.T) {
		cachetest.Expiring(t, 300*time.Millisecond, memorycache.Resolution, func(x *cachetest.Attempt) {
			fast := newMemory(t)
			slow := gocachebridge.FromStore(newRistretto(t)) // a TTLGetter
			fastCache := gocache.New[[]byte](gocachebridge.ToStore(fast))
			slowCache := gocache.New[[]byte](gocachebridge.ToStore(slow))
			chain := gocache.NewChain[[]byte](fastCache, slowCache)
			defer chain.Close()
			x.Set(slow, "k", "v")
			if v, err := chain.Get(ctx, "k"); err != nil || string(v) != "v" {
				x.Live(fmt.Errorf("chain Get = %q, %v", v, err))
			}
			chain.Close() // waits for the chain's copy into the fast cache
			if v, err := fast.Get(ctx, "k"); err != nil || string(v) != "v" {
				x.Live(fmt.Errorf("gocache's chain did not copy the hit upwards: %q, %v", v, err))
			}
			// It copied the remaining TTL, which ToStore reported exactly.
			x.Expire()
			if _, err := fast.Get(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("the copy outlived the original: %v", err)
			}
		})
	})
	t.Run("Loadable", func(t *testing.T) {
		var loads atomic.Int32
		load := func(_ context.Context, key any) ([]byte, []store.Option, error) {
			loads.Add(1)
			return []byte("loaded " + key.(string)), []store.Option{store.WithExpiration(time.Hour)}, nil
		}
		mem := newMemory(t)
		l := gocache.NewLoadable[[]byte](load, gocache.New[[]byte](gocachebridge.ToStore(mem)))
		if v, err := l.Get(ctx, "k"); err != nil || string(v) != "loaded k" {
			t.Fatalf("Loadable Get = %q, %v", v, err)
		}
		l.Close() // waits for the loaded value to be stored
		if v, err := mem.Get(ctx, "k"); err != nil || string(v) != "loaded k" {
			t.Fatalf("the loaded value is not in our adapter: %q, %v", v, err)
		}
		l = gocache.NewLoadable[[]byte](load, gocache.New[[]byte](gocachebridge.ToStore(mem)))
		defer l.Close()
		if v, err := l.Get(ctx, "k"); err != nil || string(v) != "loaded k" || loads.Load() != 1 {
			t.Fatalf("second Get = %q, %v after %d loads; want it from the cache", v, err, loads.Load())
		}
	})
}

func TestToStoreUnknownTTL(t *testing.T) {
	ctx := t.Context()
	mem := struct{ cache.Adapter }{newMemory(t)} // hides memorycache's TTLGetter
	if err := mem.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts []gocachebridge.StoreOption
		want time.Duration
	}{
		{nil, gocachebridge.DefaultUnknownTTL},
		{[]gocachebridge.StoreOption{gocachebridge.WithUnknownTTL(5 * time.Second)}, 5 * time.Second},
		{[]gocachebridge.StoreOption{gocachebridge.WithUnknownTTL(0)}, gocachebridge.DefaultUnknownTTL},
	} {
		_, ttl, err := gocachebridge.ToStore(mem, tc.opts...).GetWithTTL(ctx, "k")
		if err != nil || ttl != tc.want {
			t.Errorf("GetWithTTL = %v, %v; want %v (never 0, gocache's no expiry)", ttl, err, tc.want)
		}
	}
	if _, err := gocachebridge.ToStore(mem).Get(ctx, 42); err == nil {
		t.Error("Get with an int key succeeded")
	}
	if err := gocachebridge.ToStore(mem).Set(ctx, "k", 42); err == nil {
		t.Error("Set of an int value succeeded")
	}
}

// Any gocache store, here Ristretto, behind this module's typed front end.
func ExampleFromStore() {
	rc, err := ristretto.NewCache(&ristretto.Config[string, any]{NumCounters: 1e4, MaxCost: 1 << 20, BufferItems: 64})
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	a := gocachebridge.FromStore(ristrettostore.NewRistretto[string, any](rc))
	defer a.Close()

	users := cache.New[map[string]int](a)
	ctx := context.Background()
	if err := users.SetWithTTL(ctx, "ages", map[string]int{"ada": 36}, time.Hour); err != nil {
		panic(err)
	}
	ages, err := users.Get(ctx, "ages")
	fmt.Println(ages["ada"], err)
	// Output: 36 <nil>
}

// gocache's own cache running on this module's memory adapter.
func ExampleToStore() {
	mem, err := memorycache.New()
	if err != nil {
		panic(err)
	}
	defer mem.Close()
	c := gocache.New[[]byte](gocachebridge.ToStore(mem))

	ctx := context.Background()
	if err := c.Set(ctx, "greeting", []byte("hello"), store.WithExpiration(time.Minute)); err != nil {
		panic(err)
	}
	v, err := c.Get(ctx, "greeting")
	fmt.Println(string(v), err)
	// Output: hello <nil>
}
