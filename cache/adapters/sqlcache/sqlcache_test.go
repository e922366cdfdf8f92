package sqlcache_test

import (
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/session/sessiontest"
)

// TestConformance runs the contract on every dialect in two layouts: many
// adapters sharing one table, each with a prefix of its own, and adapters
// without a prefix, each on a table of its own (the table is then the
// namespace that Clear empties).
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name+"/prefix", func(t *testing.T) {
			db := b.open(t)
			table := newTable(t, db)
			cachetest.Run(t, func(t *testing.T) cache.Adapter {
				return newCache(t, db, sqlcache.WithTable(table), sqlcache.WithPrefix(unique("p%s:")))
			}, cachetest.WithTTLResolution(sqlcache.Resolution))
		})
		t.Run(b.name+"/table", func(t *testing.T) {
			db := b.open(t)
			cachetest.Run(t, func(t *testing.T) cache.Adapter {
				return newCache(t, db, sqlcache.WithTable(newTable(t, db)))
			}, cachetest.WithTTLResolution(sqlcache.Resolution))
		})
	}
}

// TestSessions runs the session end-to-end suite on every dialect.
func TestSessions(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			table := newTable(t, db)
			sessiontest.Run(t, func(t *testing.T) cache.Adapter {
				return newCache(t, db, sqlcache.WithTable(table), sqlcache.WithPrefix(unique("s%s:")))
			}, sessiontest.WithTTLResolution(sqlcache.Resolution))
		})
	}
}

func BenchmarkAdapter(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			table := newTable(b, db)
			cachetest.RunBenchmarks(b, func(b *testing.B) cache.Adapter {
				return newCache(b, db, sqlcache.WithTable(table), sqlcache.WithPrefix(unique("b%s:")))
			})
		})
	}
}
