package memorycache_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

func newCache(t testing.TB, opts ...memorycache.Option) *memorycache.Cache {
	t.Helper()
	c, err := memorycache.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Adapter { return newCache(t) },
		cachetest.WithTTLResolution(memorycache.Resolution))
}

func BenchmarkAdapter(b *testing.B) {
	cachetest.RunBenchmarks(b, func(b *testing.B) cache.Adapter { return newCache(b) })
}

// Every Set that returns nil is visible to the next Get, including new keys
// written faster than ristretto's goroutine applies them.
func TestReadYourWrites(t *testing.T) {
	c := newCache(t)
	defer c.Close()
	ctx := t.Context()
	for i := range 20000 {
		k := fmt.Sprintf("k%d", i)
		if err := c.Set(ctx, k, []byte(k), 0); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, k); err != nil || string(v) != k {
			t.Fatalf("Get(%q) right after Set = %q, %v", k, v, err)
		}
	}
}

// With a tiny capacity, every Set either is readable afterwards or says why
// not: never a nil error for a value that is gone.
func TestFullCacheNeverDropsSilently(t *testing.T) {
	// Room for exactly 16 entries of 1000 bytes plus bookkeeping.
	c := newCache(t, memorycache.WithCapacity(16*(1000+128)))
	defer c.Close()
	ctx := t.Context()
	val := make([]byte, 1000)
	// Entries that fill the cache and are read often: the admission policy
	// prefers keeping them over admitting entries nobody has read.
	for i := range 16 {
		k := fmt.Sprintf("hot%d", i)
		if err := c.Set(ctx, k, val, 0); err != nil {
			t.Fatal(err)
		}
	}
	for range 500 {
		for i := range 16 {
			c.Get(ctx, fmt.Sprintf("hot%d", i))
		}
	}
	// Ristretto counts reads asynchronously.
	time.Sleep(100 * time.Millisecond)
	rejected := 0
	for i := range 200 {
		k := fmt.Sprintf("cold%d", i)
		err := c.Set(ctx, k, val, 0)
		switch {
		case errors.Is(err, memorycache.ErrRejected):
			rejected++
			if ok, _ := c.Has(ctx, k); ok {
				t.Fatalf("Set(%q) reported ErrRejected but the key is present", k)
			}
		case err != nil:
			t.Fatal(err)
		default:
			// Has, unlike Get, does not make the key look used.
			if ok, err := c.Has(ctx, k); !ok || err != nil {
				t.Fatalf("Set(%q) returned nil but Has = %v, %v", k, ok, err)
			}
		}
	}
	if rejected == 0 && raceEnabled {
		t.Skip("under -race ristretto loses its read counts (sync.Pool drops them), so it admits everything; run without -race to see rejections")
	}
	if rejected == 0 {
		t.Fatal("200 cold entries into a cache full of hot ones: expected the admission policy to reject some")
	}
	t.Logf("%d of 200 Sets rejected by the admission policy, all reported", rejected)
}

func TestTooLarge(t *testing.T) {
	c := newCache(t, memorycache.WithCapacity(4096))
	defer c.Close()
	err := c.Set(t.Context(), "big", make([]byte, 8192), 0)
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set of 8 KiB into a 4 KiB cache = %v, want ErrTooLarge", err)
	}
	if _, err := memorycache.New(memorycache.WithCapacity(0)); err == nil {
		t.Fatal("New with capacity 0 succeeded")
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	caches := make([]*memorycache.Cache, 5)
	for i := range caches {
		caches[i] = newCache(t)
		if err := caches[i].Set(t.Context(), "k", []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if runtime.NumGoroutine() <= before {
		t.Fatal("expected ristretto to start goroutines")
	}
	for _, c := range caches {
		c.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before New", n, before)
	}
}
