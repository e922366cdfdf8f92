package sqlcache_test

import (
	"fmt"
	"testing"
	"time"

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

// Clear and DeleteExpired delete a batch of rows per statement until none
// is left: rows beyond the first batches go too, and those under another
// prefix stay.
func TestDeleteInBatches(t *testing.T) {
	const n = 2*500 + 1 // more than two batches
	keys := make([]string, n)
	items := make(map[string][]byte, n)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
		items[keys[i]] = []byte("v")
	}
	count := func(t *testing.T, c *sqlcache.Cache) int {
		t.Helper()
		hits, err := c.GetMany(t.Context(), keys)
		must(t, err)
		return len(hits)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			table := newTable(t, db)
			c := newCache(t, db, sqlcache.WithTable(table), sqlcache.WithPrefix("a:"))
			other := newCache(t, db, sqlcache.WithTable(table), sqlcache.WithPrefix("b:"))
			must(t, c.SetMany(t.Context(), items, time.Millisecond))
			must(t, other.SetMany(t.Context(), items, 0))
			time.Sleep(5 * time.Millisecond) // past the millisecond TTL
			if swept, err := c.DeleteExpired(t.Context()); err != nil || swept != n {
				t.Errorf("DeleteExpired of %d expired entries: %d, %v", n, swept, err)
			}
			must(t, c.SetMany(t.Context(), items, 0))
			must(t, c.Clear(t.Context()))
			if left, kept := count(t, c), count(t, other); left != 0 || kept != n {
				t.Errorf("after Clear of %d entries: %d left, %d of %d under another prefix", n, left, kept, n)
			}
			// Without a prefix, Clear empties the table.
			must(t, other.Clear(t.Context()))
			whole := newCache(t, db, sqlcache.WithTable(table))
			must(t, whole.SetMany(t.Context(), items, 0))
			must(t, whole.Clear(t.Context()))
			if left := count(t, whole); left != 0 {
				t.Errorf("after Clear without a prefix of %d entries: %d left", n, left)
			}
		})
	}
}
