package rediscache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// The test servers, found through these variables (defaults are what
// scripts/services.sh starts).
const (
	envAddr           = "CACHELIB_REDIS_ADDR"
	defAddr           = "127.0.0.1:6390"
	envClusterAddrs   = "CACHELIB_REDIS_CLUSTER_ADDRS"
	defClusterAddrs   = "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"
	envSentinelAddrs  = "CACHELIB_REDIS_SENTINEL_ADDRS"
	defSentinelAddrs  = "127.0.0.1:26390"
	envSentinelMaster = "CACHELIB_REDIS_SENTINEL_MASTER"
	defSentinelMaster = "cachelib"
)

func standaloneAddr(t testing.TB) string {
	t.Helper()
	return testenv.Addr(t, envAddr, defAddr)
}

func sentinelMaster() string {
	if m := os.Getenv(envSentinelMaster); m != "" {
		return m
	}
	return defSentinelMaster
}

// closeWith closes c when the test ends.
func closeWith[C interface{ Close() error }](t testing.TB, c C) C {
	t.Cleanup(func() { c.Close() })
	return c
}

func newStandalone(t testing.TB, db int) *redis.Client {
	t.Helper()
	return closeWith(t, redis.NewClient(&redis.Options{
		Addr: standaloneAddr(t), DB: db, ContextTimeoutEnabled: true,
	}))
}

func newCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	return closeWith(t, redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: testenv.Addrs(t, envClusterAddrs, defClusterAddrs), ContextTimeoutEnabled: true,
	}))
}

func newSentinel(t testing.TB, db int) *redis.Client {
	t.Helper()
	c := closeWith(t, redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    sentinelMaster(),
		SentinelAddrs: testenv.Addrs(t, envSentinelAddrs, defSentinelAddrs),
		DB:            db, ContextTimeoutEnabled: true,
	}))
	if err := c.Ping(t.Context()).Err(); err != nil {
		testenv.Unavailable(t, "no master %q through Sentinel: %v", sentinelMaster(), err)
	}
	return c
}

// newRing returns a Ring of two shards that are two logical databases of
// the standalone server, one reached directly and one through a proxy so
// that the shards have different addresses. A key sent to the wrong shard
// is then missing, as it would be on two servers. It also returns a
// client of each shard's database.
func newRing(t testing.TB) (*redis.Ring, [2]*redis.Client) {
	t.Helper()
	addr := standaloneAddr(t)
	proxy := faultproxy.Start(t, addr).Addr()
	dbs := map[string]int{addr: acquireDB(t), proxy: acquireDB(t)}
	r := closeWith(t, redis.NewRing(&redis.RingOptions{
		Addrs: map[string]string{"direct": addr, "proxied": proxy},
		NewClient: func(opt *redis.Options) *redis.Client {
			opt.DB = dbs[opt.Addr]
			return redis.NewClient(opt)
		},
		ContextTimeoutEnabled: true,
	}))
	return r, [2]*redis.Client{newStandalone(t, dbs[addr]), newStandalone(t, dbs[proxy])}
}

// Logical databases 1-15 of the standalone server are lent to tests that
// need a whole database (no prefix); database 0 is left to tests that
// isolate with prefixes. A lease is a key in database 0, so concurrent test
// processes never share a database either; it expires by itself if a
// process dies holding it.
const leaseTTL = 5 * time.Minute

func leaseKey(db int) string { return fmt.Sprintf("cachelib-test:db-lease:%d", db) }

var releaseLease = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

// acquireDB leases an empty logical database until the test ends. It is
// emptied with SCAN and UNLINK (the adapter's opt-in unprefixed Clear),
// before and after use.
func acquireDB(t testing.TB) int {
	t.Helper()
	leases := newStandalone(t, 0)
	token := uniquePrefix("%s")
	db := 0
	for db == 0 {
		for n := 1; n <= 15 && db == 0; n++ {
			ok, err := leases.SetNX(t.Context(), leaseKey(n), token, leaseTTL).Result()
			if err != nil {
				t.Fatalf("lease a database: %v", err)
			}
			if ok {
				db = n
			}
		}
		if db == 0 {
			select {
			case <-time.After(50 * time.Millisecond):
			case <-t.Context().Done():
				t.Fatal("no free logical database")
			}
		}
	}
	empty := func(ctx context.Context) {
		c := redis.NewClient(&redis.Options{Addr: standaloneAddr(t), DB: db, ContextTimeoutEnabled: true})
		defer c.Close()
		a, err := rediscache.New(c, rediscache.WithUnprefixedClear())
		if err == nil {
			err = a.Clear(ctx)
		}
		if err != nil {
			t.Errorf("empty database %d: %v", db, err)
		}
	}
	empty(t.Context())
	t.Cleanup(func() {
		ctx := context.Background()
		empty(ctx)
		releaseLease.Run(ctx, leases, []string{leaseKey(db)}, token)
	})
	return db
}

var (
	run      = rand.Uint32()
	prefixes atomic.Int64
)

// uniquePrefix returns a prefix no other adapter of this or a concurrent
// test run uses, with the given decoration around a unique tag (a hash tag
// in braces puts every key in one cluster slot).
func uniquePrefix(format string) string {
	return fmt.Sprintf(format, fmt.Sprintf("cachetest-%08x-%d", run, prefixes.Add(1)))
}

// newCache returns an adapter on client that the test closes, and whose
// keys are deleted when the test ends.
func newCache(t testing.TB, client redis.UniversalClient, opts ...rediscache.Option) *rediscache.Cache {
	t.Helper()
	a, err := rediscache.New(client, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A second adapter on the same prefix: the first may be closed.
		if b, err := rediscache.New(client, opts...); err == nil {
			b.Clear(context.Background())
		}
	})
	return a
}

// quiet drops go-redis's log lines (a line per Sentinel lookup and per
// failed dial in the fault tests); the tests check outcomes instead.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }
