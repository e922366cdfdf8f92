package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachelib-go/cachelib/cache/adapters/memcachedcache"
	"github.com/cachelib-go/cachelib/internal/testenv"
	gocache "github.com/eko/gocache/lib/v4/store"
	gocachememcache "github.com/eko/gocache/store/memcache/v4"
)

// The first Memcached server of the tests (scripts/services.sh starts it).
// Every contender talks to it through its own client with the same
// settings, one server, no ring.
func memcachedAddr(b *testing.B) string {
	return testenv.Addrs(b, "CACHELIB_MEMCACHED_ADDRS", "127.0.0.1:11311,127.0.0.1:11312")[0]
}

func newMemcacheClient(b *testing.B) *memcache.Client {
	client := memcache.New(memcachedAddr(b))
	b.Cleanup(func() { client.Close() })
	return client
}

// mcRun keeps the keys of one benchmark run apart from earlier runs'.
var mcRun = time.Now().UnixNano()

func newMemcachedcache(b *testing.B, opts ...memcachedcache.Option) *memcachedcache.Cache {
	opts = append([]memcachedcache.Option{memcachedcache.WithPrefix(fmt.Sprintf("bench-%d-%s", mcRun, b.Name()))}, opts...)
	c, err := memcachedcache.New(newMemcacheClient(b), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// rawKeys are the keys the raw clients use, apart from other runs'.
func rawKeys(b *testing.B) []string {
	keys := make([]string, nkeys)
	for i, k := range benchKeys {
		keys[i] = fmt.Sprintf("raw-%d-%s-%s", mcRun, b.Name(), k)
	}
	return keys
}

// cancelable is the kind of context a server request carries: one that
// can be cancelled, without a deadline.
func cancelable(b *testing.B) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	return ctx
}

// shortDeadline gives each call a deadline of its own, nearer than
// gomemcache's Timeouts could end the call, so the adapter runs it in a
// goroutine that the caller can leave at the deadline; making the context
// is part of the cost.
func shortDeadline(b *testing.B, call func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := call(ctx)
	cancel()
	must(b, err)
}

func BenchmarkMemcachedGet(b *testing.B) {
	ours := func(b *testing.B, ctx context.Context, opts ...memcachedcache.Option) {
		c := newMemcachedcache(b, opts...)
		for _, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := c.Get(ctx, benchKeys[i%nkeys])
			must(b, err)
			sink = v
		}
	}
	b.Run("memcachedcache", func(b *testing.B) { ours(b, context.Background()) })
	b.Run("memcachedcache-cancelable-ctx", func(b *testing.B) { ours(b, cancelable(b)) })
	b.Run("memcachedcache-100ms-deadline", func(b *testing.B) {
		c, ctx := newMemcachedcache(b), context.Background()
		for _, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			shortDeadline(b, func(ctx context.Context) (err error) { sink, err = c.Get(ctx, benchKeys[i%nkeys]); return err })
		}
	})
	// The price of seeing other processes' Clears at once.
	b.Run("memcachedcache-refresh=0", func(b *testing.B) {
		ours(b, context.Background(), memcachedcache.WithGenerationRefresh(0))
	})
	b.Run("gomemcache", func(b *testing.B) {
		client, keys := newMemcacheClient(b), rawKeys(b)
		for _, k := range keys {
			must(b, client.Set(&memcache.Item{Key: k, Value: benchValue}))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			it, err := client.Get(keys[i%nkeys])
			must(b, err)
			sink = it.Value
		}
	})
	b.Run("gocache", func(b *testing.B) {
		s, keys := gocachememcache.NewMemcache(newMemcacheClient(b)), rawKeys(b)
		ctx := context.Background()
		for _, k := range keys {
			must(b, s.Set(ctx, k, benchValue))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := s.Get(ctx, keys[i%nkeys])
			must(b, err)
			sink = v.([]byte)
		}
	})
}

// BenchmarkMemcachedSet overwrites existing keys with a TTL, the steady
// state of a cache.
func BenchmarkMemcachedSet(b *testing.B) {
	const ttl = time.Hour
	ours := func(b *testing.B, ctx context.Context) {
		c := newMemcachedcache(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, c.Set(ctx, benchKeys[i%nkeys], benchValue, ttl))
		}
	}
	b.Run("memcachedcache", func(b *testing.B) { ours(b, context.Background()) })
	b.Run("memcachedcache-cancelable-ctx", func(b *testing.B) { ours(b, cancelable(b)) })
	b.Run("memcachedcache-100ms-deadline", func(b *testing.B) {
		c := newMemcachedcache(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			shortDeadline(b, func(ctx context.Context) error { return c.Set(ctx, benchKeys[i%nkeys], benchValue, ttl) })
		}
	})
	b.Run("gomemcache", func(b *testing.B) {
		client, keys := newMemcacheClient(b), rawKeys(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, client.Set(&memcache.Item{Key: keys[i%nkeys], Value: benchValue, Expiration: int32(ttl / time.Second)}))
		}
	})
	b.Run("gocache", func(b *testing.B) {
		s, keys := gocachememcache.NewMemcache(newMemcacheClient(b)), rawKeys(b)
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, s.Set(ctx, keys[i%nkeys], benchValue, gocache.WithExpiration(ttl)))
		}
	})
}

// BenchmarkMemcachedGetMany100 reads 100 keys: in one batch, and one at a
// time. gocache has no batch read.
func BenchmarkMemcachedGetMany100(b *testing.B) {
	const n = 100
	window := func(keys []string, i int) []string {
		start := (i * n) % (nkeys - n)
		return keys[start : start+n]
	}
	b.Run("memcachedcache-GetMany", func(b *testing.B) {
		c, ctx := newMemcachedcache(b), context.Background()
		for _, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			hits, err := c.GetMany(ctx, window(benchKeys, i))
			must(b, err)
			if len(hits) != n {
				b.Fatalf("%d hits, want %d", len(hits), n)
			}
		}
	})
	b.Run("memcachedcache-100xGet", func(b *testing.B) {
		c, ctx := newMemcachedcache(b), context.Background()
		for _, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			for _, k := range window(benchKeys, i) {
				v, err := c.Get(ctx, k)
				must(b, err)
				sink = v
			}
		}
	})
	b.Run("gomemcache-GetMulti", func(b *testing.B) {
		client, keys := newMemcacheClient(b), rawKeys(b)
		for _, k := range keys {
			must(b, client.Set(&memcache.Item{Key: k, Value: benchValue}))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			items, err := client.GetMulti(window(keys, i))
			must(b, err)
			if len(items) != n {
				b.Fatalf("%d hits, want %d", len(items), n)
			}
		}
	})
	b.Run("gocache-100xGet", func(b *testing.B) {
		s, keys := gocachememcache.NewMemcache(newMemcacheClient(b)), rawKeys(b)
		ctx := context.Background()
		for _, k := range keys {
			must(b, s.Set(ctx, k, benchValue))
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			for _, k := range window(keys, i) {
				v, err := s.Get(ctx, k)
				must(b, err)
				sink = v.([]byte)
			}
		}
	})
}

// paired times a and b in turns on every iteration, so that both meet the
// same load on a busy machine (loopback round trips vary by 30% from run
// to run here, far more while other tests run), and reports the median
// time of each and the ratio of the medians; a median ignores the stalls a
// busy machine adds to a few calls.
func paired(b *testing.B, nameA string, a func(i int), nameB string, fb func(i int)) {
	var ta, tb []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			start := time.Now()
			a(i)
			mid := time.Now()
			fb(i)
			ta, tb = append(ta, mid.Sub(start)), append(tb, time.Since(mid))
		} else {
			start := time.Now()
			fb(i)
			mid := time.Now()
			a(i)
			tb, ta = append(tb, mid.Sub(start)), append(ta, time.Since(mid))
		}
	}
	ma, mb := median(ta), median(tb)
	b.ReportMetric(float64(ma.Nanoseconds()), nameA+"-p50-ns")
	b.ReportMetric(float64(mb.Nanoseconds()), nameB+"-p50-ns")
	b.ReportMetric(float64(ma)/float64(mb), nameA+"/"+nameB)
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkMemcachedPaired compares memcachedcache with raw gomemcache call
// by call, for each kind of context, and GetMany(100) with 100 Gets.
func BenchmarkMemcachedPaired(b *testing.B) {
	// Each kind of context, as a function that makes a call with it.
	contexts := map[string]func(b *testing.B) func(b *testing.B, call func(ctx context.Context) error){
		"background": func(*testing.B) func(*testing.B, func(ctx context.Context) error) {
			return func(b *testing.B, call func(ctx context.Context) error) { must(b, call(context.Background())) }
		},
		"cancelable": func(b *testing.B) func(*testing.B, func(ctx context.Context) error) {
			ctx := cancelable(b)
			return func(b *testing.B, call func(ctx context.Context) error) { must(b, call(ctx)) }
		},
		"100ms-deadline": func(*testing.B) func(*testing.B, func(ctx context.Context) error) { return shortDeadline },
	}
	for _, name := range []string{"background", "cancelable", "100ms-deadline"} {
		b.Run("Get/"+name, func(b *testing.B) {
			withCtx := contexts[name](b)
			c, client, keys := newMemcachedcache(b), newMemcacheClient(b), rawKeys(b)
			for i, k := range benchKeys {
				must(b, c.Set(context.Background(), k, benchValue, 0))
				must(b, client.Set(&memcache.Item{Key: keys[i], Value: benchValue}))
			}
			paired(b, "ours", func(i int) {
				withCtx(b, func(ctx context.Context) (err error) { sink, err = c.Get(ctx, benchKeys[i%nkeys]); return err })
			}, "raw", func(i int) {
				it, err := client.Get(keys[i%nkeys])
				must(b, err)
				sink = it.Value
			})
		})
		b.Run("Set/"+name, func(b *testing.B) {
			withCtx := contexts[name](b)
			c, client, keys := newMemcachedcache(b), newMemcacheClient(b), rawKeys(b)
			paired(b, "ours", func(i int) {
				withCtx(b, func(ctx context.Context) error { return c.Set(ctx, benchKeys[i%nkeys], benchValue, time.Hour) })
			}, "raw", func(i int) {
				must(b, client.Set(&memcache.Item{Key: keys[i%nkeys], Value: benchValue, Expiration: 3600}))
			})
		})
	}
	b.Run("Get/vs-gocache", func(b *testing.B) {
		c, s, keys, ctx := newMemcachedcache(b), gocachememcache.NewMemcache(newMemcacheClient(b)), rawKeys(b), context.Background()
		for i, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
			must(b, s.Set(ctx, keys[i], benchValue))
		}
		paired(b, "ours", func(i int) {
			v, err := c.Get(ctx, benchKeys[i%nkeys])
			must(b, err)
			sink = v
		}, "gocache", func(i int) {
			v, err := s.Get(ctx, keys[i%nkeys])
			must(b, err)
			sink = v.([]byte)
		})
	})
	b.Run("Set/vs-gocache", func(b *testing.B) {
		c, s, keys, ctx := newMemcachedcache(b), gocachememcache.NewMemcache(newMemcacheClient(b)), rawKeys(b), context.Background()
		paired(b, "ours", func(i int) {
			must(b, c.Set(ctx, benchKeys[i%nkeys], benchValue, time.Hour))
		}, "gocache", func(i int) {
			must(b, s.Set(ctx, keys[i%nkeys], benchValue, gocache.WithExpiration(time.Hour)))
		})
	})
	b.Run("GetMany100", func(b *testing.B) {
		c, ctx := newMemcachedcache(b), context.Background()
		for _, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
		}
		const n = 100
		window := func(i int) []string {
			start := (i * n) % (nkeys - n)
			return benchKeys[start : start+n]
		}
		paired(b, "100xGet", func(i int) {
			for _, k := range window(i) {
				v, err := c.Get(ctx, k)
				must(b, err)
				sink = v
			}
		}, "GetMany", func(i int) {
			_, err := c.GetMany(ctx, window(i))
			must(b, err)
		})
	})
	b.Run("GetMany100-vs-GetMulti", func(b *testing.B) {
		c, client, keys, ctx := newMemcachedcache(b), newMemcacheClient(b), rawKeys(b), context.Background()
		for i, k := range benchKeys {
			must(b, c.Set(ctx, k, benchValue, 0))
			must(b, client.Set(&memcache.Item{Key: keys[i], Value: benchValue}))
		}
		const n = 100
		paired(b, "ours", func(i int) {
			start := (i * n) % (nkeys - n)
			_, err := c.GetMany(ctx, benchKeys[start:start+n])
			must(b, err)
		}, "raw", func(i int) {
			start := (i * n) % (nkeys - n)
			_, err := client.GetMulti(keys[start : start+n])
			must(b, err)
		})
	})
}
