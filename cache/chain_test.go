package cache_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/filecache"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// layer returns a to the test and closes it when the test ends: a Chain
// does not own its layers.
func layer[A cache.Adapter](t *testing.T, a A, err error) A {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func memLayer(t *testing.T) *memorycache.Cache {
	a, err := memorycache.New()
	return layer(t, a, err)
}

func fileLayer(t *testing.T) *filecache.Cache {
	a, err := filecache.New(t.TempDir())
	return layer(t, a, err)
}

func TestChainConformance(t *testing.T) {
	t.Run("memory/memory", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return cache.Chain(memLayer(t), memLayer(t))
		})
	})
	t.Run("memory/file", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return cache.Chain(memLayer(t), fileLayer(t))
		})
	})
	t.Run("memory/memory/file", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return cache.Chain(memLayer(t), memLayer(t), fileLayer(t))
		})
	})
	// Layers that can tell their TTL, so that reads copy hits upwards.
	t.Run("memory/ttl-aware-memory/ttl-aware-file", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return cache.Chain(memLayer(t), ttlAware{memLayer(t)}, ttlAware{fileLayer(t)})
		})
	})
	t.Run("memory/redis", func(t *testing.T) {
		client := redis.NewClient(&redis.Options{
			Addr:                  testenv.Addr(t, "CACHELIB_REDIS_ADDR", "127.0.0.1:6390"),
			ContextTimeoutEnabled: true,
		})
		t.Cleanup(func() { client.Close() })
		var n atomic.Int64
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			prefix := fmt.Sprintf("chaintest-%d-%d-%d:", os.Getpid(), time.Now().UnixNano(), n.Add(1))
			r, err := rediscache.New(client, rediscache.WithPrefix(prefix))
			r = layer(t, r, err)
			t.Cleanup(func() {
				// The harness closed the Chain, not the layer.
				if err := r.Clear(context.Background()); err != nil {
					t.Errorf("removing the test's keys: %v", err)
				}
			})
			return cache.Chain(memLayer(t), r)
		}, cachetest.WithTTLResolution(rediscache.Resolution))
	})
}

// recorder is a layer that remembers the TTL of every Set and Add it
// passes on, to check what the Chain asks of its faster layers.
type recorder struct {
	cache.Adapter
	mu   sync.Mutex
	ttls map[string]time.Duration
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{Adapter: memLayer(t), ttls: map[string]time.Duration{}}
}

func (r *recorder) note(key string, ttl time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ttls[key] = ttl
}

func (r *recorder) ttl(t *testing.T, key string) time.Duration {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	ttl, ok := r.ttls[key]
	if !ok {
		t.Fatalf("the Chain never wrote %q into the faster layer", key)
	}
	return ttl
}

func (r *recorder) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	r.note(key, ttl)
	return r.Adapter.Set(ctx, key, v, ttl)
}

func (r *recorder) Add(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	r.note(key, ttl)
	return r.Adapter.Add(ctx, key, v, ttl)
}

// ttlAware is a layer that can tell the remaining TTL of its entries, as a
// TTLGetter: it stores each value behind an 8-byte expiry (Unix
// nanoseconds, 0 for none) in the adapter it wraps, which expires the entry
// at the same time.
type ttlAware struct{ cache.Adapter }

func envelope(v []byte, ttl time.Duration) []byte {
	var exp int64
	if ttl > 0 {
		exp = time.Now().Add(ttl).UnixNano()
	}
	return append(binary.BigEndian.AppendUint64(nil, uint64(exp)), v...)
}

func (a ttlAware) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	return a.Adapter.Set(ctx, key, envelope(v, ttl), ttl)
}

func (a ttlAware) Add(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	if err := cache.CheckTTL(ttl); err != nil {
		return false, err
	}
	return a.Adapter.Add(ctx, key, envelope(v, ttl), ttl)
}

func (a ttlAware) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := a.GetWithTTL(ctx, key)
	return v, err
}

func (a ttlAware) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	e, err := a.Adapter.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	v := e[8:]
	exp := int64(binary.BigEndian.Uint64(e))
	if exp == 0 {
		return v, 0, nil
	}
	left := time.Until(time.Unix(0, exp))
	if left <= 0 {
		return nil, 0, cache.ErrNotFound
	}
	return v, left, nil
}

func TestChainFillKeepsRemainingTTL(t *testing.T) {
	ctx := t.Context()
	fast, slow := newRecorder(t), ttlAware{memLayer(t)}
	c := cache.Chain(fast, slow)
	if err := slow.Set(ctx, "ttl", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := slow.Set(ctx, "forever", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ttl", "forever"} {
		if v, err := c.Get(ctx, k); err != nil || string(v) != "v" {
			t.Fatalf("Get(%q) = %q, %v", k, v, err)
		}
	}
	if ttl := fast.ttl(t, "ttl"); ttl <= 0 || ttl >= time.Hour {
		t.Fatalf("a hit with under an hour left was copied with TTL %v, want what is left of it", ttl)
	}
	if ttl := fast.ttl(t, "forever"); ttl != 0 {
		t.Fatalf("a hit that never expires was copied with TTL %v, want 0", ttl)
	}
	// The copy expires with the original.
	if err := slow.Set(ctx, "short", []byte("v"), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "short"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := fast.Has(ctx, "short"); !ok {
		t.Fatal("the hit was not copied into the faster layer")
	}
	time.Sleep(350 * time.Millisecond)
	if ok, _ := fast.Has(ctx, "short"); ok {
		t.Fatal("the copy of an expired entry is still in the faster layer")
	}
}

func TestChainFillWithoutTTLGetter(t *testing.T) {
	ctx := t.Context()
	t.Run("default", func(t *testing.T) {
		// The embedding hides memorycache's TTLGetter.
		fast, slow := newRecorder(t), struct{ cache.Adapter }{memLayer(t)}
		c := cache.Chain(fast, slow)
		if err := slow.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		fast.mu.Lock()
		defer fast.mu.Unlock()
		if ttl, ok := fast.ttls["k"]; ok {
			t.Fatalf("copied a hit of unknown TTL with TTL %v; without ChainFillTTL it must not be copied", ttl)
		}
	})
	t.Run("ChainFillTTL", func(t *testing.T) {
		fast, slow := newRecorder(t), struct{ cache.Adapter }{memLayer(t)}
		c, err := cache.NewChain([]cache.Adapter{fast, slow}, cache.ChainFillTTL(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		// Even an entry that never expires gets the bounded TTL: the
		// Chain cannot tell it from one that does.
		if err := slow.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if ttl := fast.ttl(t, "k"); ttl != 200*time.Millisecond {
			t.Fatalf("copy made with TTL %v, want the fill TTL", ttl)
		}
		if ok, _ := fast.Has(ctx, "k"); !ok {
			t.Fatal("the hit was not copied into the faster layer")
		}
		time.Sleep(300 * time.Millisecond)
		if ok, _ := fast.Has(ctx, "k"); ok {
			t.Fatal("the copy outlived the fill TTL")
		}
	})
}

// racing is a faster layer on which a concurrent Set lands right after a
// read missed it.
type racing struct{ cache.Adapter }

func (r racing) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := r.Adapter.Get(ctx, key)
	if errors.Is(err, cache.ErrNotFound) {
		if err := r.Adapter.Set(ctx, key, []byte("new"), 0); err != nil {
			return nil, err
		}
	}
	return v, err
}

func TestChainFillNeverOverwritesANewerValue(t *testing.T) {
	ctx := t.Context()
	fast, slow := memLayer(t), memLayer(t)
	if err := slow.Set(ctx, "k", []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	c := cache.Chain(racing{fast}, slow)
	if v, err := c.Get(ctx, "k"); err != nil || string(v) != "old" {
		t.Fatalf("Get = %q, %v; want old (read before the Set)", v, err)
	}
	if v, err := fast.Get(ctx, "k"); err != nil || string(v) != "new" {
		t.Fatalf("faster layer holds %q, %v; the read's copy overwrote the newer value", v, err)
	}
}

// noIncrement hides the Incrementer of the adapter it wraps.
type noIncrement struct{ cache.Adapter }

func TestChainIncrementerOnlyWithTheLastLayers(t *testing.T) {
	if _, ok := cache.Chain(noIncrement{memLayer(t)}, memLayer(t)).(cache.Incrementer); !ok {
		t.Error("a Chain whose last layer is an Incrementer does not implement Incrementer")
	}
	c := cache.Chain(memLayer(t), noIncrement{memLayer(t)})
	if _, ok := c.(cache.Incrementer); ok {
		t.Error("a Chain whose last layer is no Incrementer claims to be one")
	}
	_, err := cache.Increment(t.Context(), c, "n", 1)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("cache.Increment on it = %v, want errors.ErrUnsupported", err)
	}
}

func TestChainIncrementInvalidatesFasterLayers(t *testing.T) {
	ctx := t.Context()
	fast, slow := memLayer(t), memLayer(t)
	c := cache.Chain(fast, slow)
	if err := c.Set(ctx, "n", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := cache.Increment(ctx, c, "n", 1); err != nil || n != 2 {
		t.Fatalf("Increment = %d, %v", n, err)
	}
	if ok, _ := fast.Has(ctx, "n"); ok {
		t.Fatal("the faster layer kept the old counter after an Increment")
	}
	if v, err := c.Get(ctx, "n"); err != nil || string(v) != "2" {
		t.Fatalf("Get = %q, %v; want 2", v, err)
	}
}

func TestChainSetFailure(t *testing.T) {
	ctx := t.Context()
	small, err := memorycache.New(memorycache.WithCapacity(1024))
	small = layer(t, small, err)
	fast := memLayer(t)
	c := cache.Chain(fast, small)
	if err := c.Set(ctx, "k", []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	err = c.Set(ctx, "k", make([]byte, 4096), 0)
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set of a value the last layer refuses = %v, want ErrTooLarge", err)
	}
	if v, err := c.Get(ctx, "k"); err != nil || string(v) != "old" {
		t.Fatalf("after a failed Set, Get = %q, %v; want the old value", v, err)
	}
	// The other way round: the faster layer refuses, so it must not keep
	// serving the old value.
	c = cache.Chain(small, fast)
	if err := c.Set(ctx, "j", []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "j", make([]byte, 4096), 0); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set = %v, want ErrTooLarge", err)
	}
	if v, err := c.Get(ctx, "j"); err != nil || len(v) != 4096 {
		t.Fatalf("after a Set the faster layer refused, Get = %d bytes, %v; want the new value", len(v), err)
	}
}

func TestChainBadLayers(t *testing.T) {
	for _, layers := range [][]cache.Adapter{nil, {memLayer(t), nil}} {
		if _, err := cache.NewChain(layers); !errors.Is(err, cache.ErrNoLayers) {
			t.Errorf("NewChain(%d layers with a nil) = %v, want ErrNoLayers", len(layers), err)
		}
		c := cache.Chain(layers...)
		if _, err := c.Get(t.Context(), "k"); !errors.Is(err, cache.ErrNoLayers) {
			t.Errorf("Get on Chain(%d layers with a nil) = %v, want ErrNoLayers", len(layers), err)
		}
	}
}

func TestChainDoesNotCloseLayers(t *testing.T) {
	fast, slow := memLayer(t), memLayer(t)
	c := cache.Chain(fast, slow)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := slow.Set(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Fatalf("a layer is unusable after the Chain's Close: %v", err)
	}
}

// An in-process memory cache in front of a folder of files: a write goes
// to both, and reads are served from memory while the entry is there.
func ExampleChain() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chain-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	files, err := filecache.New(dir)
	if err != nil {
		panic(err)
	}
	defer files.Close()
	mem, err := memorycache.New()
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	c := cache.Chain(mem, files)
	defer c.Close()
	if err := c.Set(ctx, "greeting", []byte("hello"), time.Hour); err != nil {
		panic(err)
	}
	inMemory, _ := mem.Has(ctx, "greeting")
	inFiles, _ := files.Has(ctx, "greeting")
	v, _ := c.Get(ctx, "greeting")
	fmt.Println(string(v), inMemory, inFiles)
	// Output: hello true true
}

// late is a slow layer whose replies come after the deadline: each write is
// applied, then the call waits for its context to end and reports
// cache.ErrUncertain, as a networked adapter does when its reply is late.
type late struct{ *memorycache.Cache }

func (l late) wait(ctx context.Context) error {
	<-ctx.Done()
	return fmt.Errorf("%w: %w", cache.ErrUncertain, ctx.Err())
}

func (l late) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if err := l.Cache.Set(context.WithoutCancel(ctx), key, v, ttl); err != nil {
		return err
	}
	return l.wait(ctx)
}

func (l late) Delete(ctx context.Context, key string) (bool, error) {
	if _, err := l.Cache.Delete(context.WithoutCancel(ctx), key); err != nil {
		return false, err
	}
	return false, l.wait(ctx)
}

func (l late) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if _, err := l.Cache.Increment(context.WithoutCancel(ctx), key, delta); err != nil {
		return 0, err
	}
	return 0, l.wait(ctx)
}

// A write that the last layer may have applied, reported late, must not
// leave a faster layer serving what the last layer no longer holds: the
// faster layers are brought in line although the caller's context has
// ended.
func TestChainAfterUncertainWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context, c cache.Adapter) error
	}{
		{"Set", func(ctx context.Context, c cache.Adapter) error { return c.Set(ctx, "k", []byte("2"), 0) }},
		{"Delete", func(ctx context.Context, c cache.Adapter) error { _, err := c.Delete(ctx, "k"); return err }},
		{"Increment", func(ctx context.Context, c cache.Adapter) error {
			_, err := cache.Increment(ctx, c, "k", 1)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fast, slow := memLayer(t), memLayer(t)
			for _, l := range []cache.Adapter{fast, slow} {
				if err := l.Set(t.Context(), "k", []byte("1"), 0); err != nil {
					t.Fatal(err)
				}
			}
			c := cache.Chain(fast, late{slow})
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			err := tc.write(ctx, c)
			cancel()
			if !errors.Is(err, cache.ErrUncertain) {
				t.Fatalf("%s = %v, want the last layer's ErrUncertain", tc.name, err)
			}
			want, werr := slow.Get(t.Context(), "k")
			got, gerr := c.Get(t.Context(), "k")
			if string(got) != string(want) || (gerr == nil) != (werr == nil) {
				t.Fatalf("after an uncertain %s the Chain reads %q, %v while its last layer holds %q, %v", tc.name, got, gerr, want, werr)
			}
		})
	}
}
