package bench

import (
	"context"
	"testing"

	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/cachelib-go/cachelib/internal/testenv"
	gocacheredis "github.com/eko/gocache/store/redis/v4"
	"github.com/redis/go-redis/v9"
)

// The standalone Redis server of scripts/services.sh, as in the adapter's
// tests.
const (
	redisAddrEnv = "CACHELIB_REDIS_ADDR"
	redisAddrDef = "127.0.0.1:6390"
	redisPrefix  = "cachelib-bench:"
)

// redisKeys are benchKeys under redisPrefix: what rediscache sends, and so
// what the raw client and gocache are given, for the same server work.
var redisKeys = func() []string {
	keys := make([]string, nkeys)
	for i, k := range benchKeys {
		keys[i] = redisPrefix + k
	}
	return keys
}()

// newRedis returns a client of the standalone server and a rediscache on
// it, with every benchmark key set; the keys are deleted afterwards.
func newRedis(b *testing.B) (*redis.Client, *rediscache.Cache) {
	client := redis.NewClient(&redis.Options{Addr: testenv.Addr(b, redisAddrEnv, redisAddrDef), ContextTimeoutEnabled: true})
	b.Cleanup(func() { client.Close() })
	c, err := rediscache.New(client, rediscache.WithPrefix(redisPrefix))
	must(b, err)
	ctx := context.Background()
	b.Cleanup(func() { c.Clear(ctx) })
	fill(b, c)
	return client, c
}

func BenchmarkRedisGet(b *testing.B) {
	ctx := context.Background()
	b.Run("rediscache", func(b *testing.B) {
		_, c := newRedis(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := c.Get(ctx, benchKeys[i%nkeys])
			must(b, err)
			sink = v
		}
	})
	b.Run("go-redis", func(b *testing.B) {
		client, _ := newRedis(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := client.Get(ctx, redisKeys[i%nkeys]).Bytes()
			must(b, err)
			sink = v
		}
	})
	b.Run("gocache", func(b *testing.B) {
		client, _ := newRedis(b)
		s := gocacheredis.NewRedis(client)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_, err := s.Get(ctx, redisKeys[i%nkeys])
			must(b, err)
		}
	})
}

func BenchmarkRedisSet(b *testing.B) {
	ctx := context.Background()
	b.Run("rediscache", func(b *testing.B) {
		_, c := newRedis(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, c.Set(ctx, benchKeys[i%nkeys], benchValue, 0))
		}
	})
	b.Run("go-redis", func(b *testing.B) {
		client, _ := newRedis(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, client.Set(ctx, redisKeys[i%nkeys], benchValue, 0).Err())
		}
	})
	b.Run("gocache", func(b *testing.B) {
		client, _ := newRedis(b)
		s := gocacheredis.NewRedis(client)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, s.Set(ctx, redisKeys[i%nkeys], benchValue))
		}
	})
}

// BenchmarkRedisGet100 reads 100 keys: with GetMany (one MGET), with 100
// Gets one after the other, and with the raw client's MGET.
func BenchmarkRedisGet100(b *testing.B) {
	ctx := context.Background()
	const n = 100
	window := func(i int) (int, int) { start := (i * n) % (nkeys - n); return start, start + n }
	b.Run("rediscache-GetMany", func(b *testing.B) {
		_, c := newRedis(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			lo, hi := window(i)
			hits, err := c.GetMany(ctx, benchKeys[lo:hi])
			must(b, err)
			if len(hits) != n {
				b.Fatalf("%d hits, want %d", len(hits), n)
			}
		}
	})
	b.Run("rediscache-100-Gets", func(b *testing.B) {
		_, c := newRedis(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			lo, hi := window(i)
			for _, k := range benchKeys[lo:hi] {
				v, err := c.Get(ctx, k)
				must(b, err)
				sink = v
			}
		}
	})
	b.Run("go-redis-MGet", func(b *testing.B) {
		client, _ := newRedis(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			lo, hi := window(i)
			vals, err := client.MGet(ctx, redisKeys[lo:hi]...).Result()
			must(b, err)
			if len(vals) != n {
				b.Fatalf("%d values, want %d", len(vals), n)
			}
		}
	})
}
