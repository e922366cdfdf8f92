package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/dgraph-io/ristretto/v2"
	gocache "github.com/eko/gocache/lib/v4/store"
	gocacheristretto "github.com/eko/gocache/store/ristretto/v4"
)

const (
	nkeys     = 1024
	valueSize = 100
	// memCapacity holds every key of every benchmark, so no result is
	// shaped by eviction.
	memCapacity = 1 << 30
	// memCost is what memorycache charges per entry; the raw ristretto
	// cache is given the same costs so both do the same admission work.
	memCost = valueSize + 128
)

var (
	sink       []byte
	benchKeys  = makeKeys(nkeys)
	benchValue = make([]byte, valueSize)
)

func makeKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:key:%d", i)
	}
	return keys
}

func newRistretto(b *testing.B) *ristretto.Cache[string, []byte] {
	rc, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters: memCapacity / 32, MaxCost: memCapacity, BufferItems: 64, IgnoreInternalCost: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rc.Close)
	return rc
}

func newMemorycache(b *testing.B) *memorycache.Cache {
	c, err := memorycache.New(memorycache.WithCapacity(memCapacity))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func newGocache(b *testing.B) *gocacheristretto.RistrettoStore[string, []byte] {
	return gocacheristretto.NewRistretto(newRistretto(b), gocache.WithSynchronousSet(), gocache.WithCost(memCost))
}

func BenchmarkMemoryGet(b *testing.B) {
	ctx := context.Background()
	b.Run("memorycache", func(b *testing.B) {
		c := newMemorycache(b)
		for _, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := c.Get(ctx, benchKeys[i%nkeys]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memorycache-view", func(b *testing.B) {
		c := newMemorycache(b)
		for _, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
		}
		n := 0
		count := func(v []byte) error { n += len(v); return nil }
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, c.View(ctx, benchKeys[i%nkeys], count))
		}
	})
	b.Run("ristretto", func(b *testing.B) {
		rc := newRistretto(b)
		for _, k := range benchKeys {
			rc.Set(k, benchValue, memCost)
		}
		rc.Wait()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok := rc.Get(benchKeys[i%nkeys]); !ok {
				b.Fatal("miss")
			}
		}
	})
	// The copy memorycache.Get makes, so that callers cannot change the
	// cache through the returned slice, costs one allocation: this is raw
	// ristretto with the same copy.
	b.Run("ristretto+copy", func(b *testing.B) {
		rc := newRistretto(b)
		for _, k := range benchKeys {
			rc.Set(k, benchValue, memCost)
		}
		rc.Wait()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, ok := rc.Get(benchKeys[i%nkeys])
			if !ok {
				b.Fatal("miss")
			}
			sink = append(make([]byte, 0, len(v)), v...)
		}
	})
	b.Run("gocache", func(b *testing.B) {
		s := newGocache(b)
		for _, k := range benchKeys {
			must(b, s.Set(ctx, k, benchValue))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Get(ctx, benchKeys[i%nkeys]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMemorySet overwrites existing keys, the steady state of a cache.
func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	b.Run("memorycache", func(b *testing.B) {
		c := newMemorycache(b)
		for _, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, c.Set(ctx, benchKeys[i%nkeys], benchValue, 0))
		}
	})
	b.Run("ristretto-async", func(b *testing.B) {
		rc := newRistretto(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			rc.Set(benchKeys[i%nkeys], benchValue, memCost)
		}
	})
	b.Run("ristretto+wait", func(b *testing.B) {
		rc := newRistretto(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			rc.Set(benchKeys[i%nkeys], benchValue, memCost)
			rc.Wait()
		}
	})
	b.Run("gocache-sync", func(b *testing.B) {
		s := newGocache(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, s.Set(ctx, benchKeys[i%nkeys], benchValue))
		}
	})
}

// BenchmarkMemorySetNew inserts keys that are not in the cache, the case
// where read-your-writes has to wait for ristretto.
func BenchmarkMemorySetNew(b *testing.B) {
	ctx := context.Background()
	const n = 1 << 18
	keys := makeKeys(n)
	b.Run("memorycache", func(b *testing.B) {
		c := newMemorycache(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%n == 0 && i > 0 {
				b.StopTimer()
				must(b, c.Clear(ctx))
				b.StartTimer()
			}
			must(b, c.Set(ctx, keys[i%n], benchValue, 0))
		}
	})
	b.Run("ristretto+wait", func(b *testing.B) {
		rc := newRistretto(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%n == 0 && i > 0 {
				b.StopTimer()
				rc.Clear()
				b.StartTimer()
			}
			rc.Set(keys[i%n], benchValue, memCost)
			rc.Wait()
		}
	})
	b.Run("gocache-sync", func(b *testing.B) {
		rc := newRistretto(b)
		s := gocacheristretto.NewRistretto(rc, gocache.WithSynchronousSet(), gocache.WithCost(memCost))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%n == 0 && i > 0 {
				b.StopTimer()
				rc.Clear()
				b.StartTimer()
			}
			must(b, s.Set(ctx, keys[i%n], benchValue))
		}
	})
}

// fill sets every benchmark key on a to benchValue, in one batch.
func fill(b *testing.B, a cache.Adapter) {
	items := make(map[string][]byte, nkeys)
	for _, k := range benchKeys {
		items[k] = benchValue
	}
	must(b, cache.SetMany(context.Background(), a, items, 0))
}

func must(b *testing.B, err error) {
	if err != nil {
		b.Helper()
		b.Fatal(err)
	}
}
