package rediscache_test

import (
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

// TestConformance runs the contract on every topology, with and without a
// prefix. What "without a prefix" can mean depends on the topology, since
// the suite runs its rules in parallel and needs adapters that do not see
// each other's keys:
//
//   - standalone and Sentinel: each adapter gets a logical database of its
//     own and no prefix at all, with WithUnprefixedClear (Clear then empties
//     that database, by SCAN and UNLINK);
//   - Cluster: there is only database 0, so no two unprefixed adapters can
//     be isolated. The cluster runs instead with a prefix that has no hash
//     tag, which spreads keys over every slot exactly as unprefixed keys
//     are spread (the multi-slot paths of GetMany, DeleteMany and Clear),
//     and with a {hash tag} prefix, which puts every key in one slot. The
//     unprefixed Clear itself is tested on a private database
//     (TestUnprefixedClear); it differs from a prefixed one only in the
//     SCAN pattern.
func TestConformance(t *testing.T) {
	run := func(t *testing.T, newAdapter cachetest.NewFunc) {
		cachetest.Run(t, newAdapter, cachetest.WithTTLResolution(rediscache.Resolution))
	}
	t.Run("standalone/prefix", func(t *testing.T) {
		client := newStandalone(t, 0)
		run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, client, rediscache.WithPrefix(uniquePrefix("%s:")))
		})
	})
	t.Run("standalone/no-prefix", func(t *testing.T) {
		newStandalone(t, 0) // skip early without a server
		run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, newStandalone(t, acquireDB(t)), rediscache.WithUnprefixedClear())
		})
	})
	t.Run("sentinel/prefix", func(t *testing.T) {
		client := newSentinel(t, 0)
		run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, client, rediscache.WithPrefix(uniquePrefix("%s:")))
		})
	})
	t.Run("sentinel/no-prefix", func(t *testing.T) {
		newSentinel(t, 0)
		run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, newSentinel(t, acquireDB(t)), rediscache.WithUnprefixedClear())
		})
	})
	t.Run("cluster/plain-prefix", func(t *testing.T) {
		client := newCluster(t)
		run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, client, rediscache.WithPrefix(uniquePrefix("%s:")))
		})
	})
	t.Run("cluster/hashtag-prefix", func(t *testing.T) {
		client := newCluster(t)
		run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, client, rediscache.WithPrefix(uniquePrefix("{%s}:")))
		})
	})
	t.Run("ring/prefix", func(t *testing.T) {
		client, _ := newRing(t)
		run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, client, rediscache.WithPrefix(uniquePrefix("%s:")))
		})
	})
}

func BenchmarkAdapter(b *testing.B) {
	client := newStandalone(b, 0)
	cachetest.RunBenchmarks(b, func(b *testing.B) cache.Adapter {
		return newCache(b, client, rediscache.WithPrefix(uniquePrefix("%s:")))
	})
}
