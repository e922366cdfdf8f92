package cachetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
)

// RunBenchmarks gives every adapter the same benchmarks, one sub-benchmark
// per operation, with 100-byte values over a working set of 1,024 keys.
func RunBenchmarks(b *testing.B, newAdapter func(b *testing.B) cache.Adapter) {
	const nkeys = 1024
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:key:%d", i)
	}
	value := make([]byte, 100)
	fresh := func(b *testing.B, fill bool) (cache.Adapter, context.Context) {
		b.Helper()
		a := newAdapter(b)
		b.Cleanup(func() { a.Close() })
		ctx := context.Background()
		if fill {
			for _, k := range keys {
				if err := a.Set(ctx, k, value, 0); err != nil {
					b.Fatal(err)
				}
			}
		}
		return a, ctx
	}
	check := func(b *testing.B, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}

	b.Run("Get", func(b *testing.B) {
		a, ctx := fresh(b, true)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_, err := a.Get(ctx, keys[i%nkeys])
			check(b, err)
		}
	})
	b.Run("GetMiss", func(b *testing.B) {
		a, ctx := fresh(b, false)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := a.Get(ctx, keys[i%nkeys]); err == nil {
				b.Fatal("hit on an empty cache")
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		a, ctx := fresh(b, true)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			check(b, a.Set(ctx, keys[i%nkeys], value, 0))
		}
	})
	b.Run("AddDelete", func(b *testing.B) {
		a, ctx := fresh(b, false)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			k := keys[i%nkeys]
			_, err := a.Add(ctx, k, value, 0)
			check(b, err)
			_, err = a.Delete(ctx, k)
			check(b, err)
		}
	})
	b.Run("Increment", func(b *testing.B) {
		a, ctx := fresh(b, false)
		if _, ok := a.(cache.Incrementer); !ok {
			b.Skip("no Incrementer")
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_, err := cache.Increment(ctx, a, keys[i%nkeys], 1)
			check(b, err)
		}
	})
	b.Run("GetMany100", func(b *testing.B) {
		a, ctx := fresh(b, true)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			start := (i * 100) % (nkeys - 100)
			_, err := cache.GetMany(ctx, a, keys[start:start+100])
			check(b, err)
		}
	})
	b.Run("SetMany100", func(b *testing.B) {
		a, ctx := fresh(b, true)
		items := make(map[string][]byte, 100)
		for _, k := range keys[:100] {
			items[k] = value
		}
		b.ReportAllocs()
		for b.Loop() {
			check(b, cache.SetMany(ctx, a, items, 0))
		}
	})
	b.Run("GetParallel", func(b *testing.B) {
		a, ctx := fresh(b, true)
		b.ReportAllocs()
		b.ResetTimer() // RunParallel, unlike b.Loop, would count the fill
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := a.Get(ctx, keys[i%nkeys]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
