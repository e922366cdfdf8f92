package sqlcache_test

import (
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// TestFaults puts a fault proxy between the adapter and each server: while
// the server is unreachable, every call ends with an error by its context's
// deadline (never a panic, a hang or a false miss), and the adapter works
// again once the network does.
func TestFaults(t *testing.T) {
	for _, b := range backends {
		if b.via == nil {
			continue // SQLite is a file: there is no network to break
		}
		t.Run(b.name, func(t *testing.T) {
			var proxy *faultproxy.Proxy
			db := b.via(t, func(upstream string) string {
				proxy = faultproxy.Start(t, upstream)
				return proxy.Addr()
			})
			c := newCache(t, db, sqlcache.WithTable(newTable(t, db)))
			t.Cleanup(func() { c.Close() })
			cachetest.RunFaults(t, c, proxy, 300*time.Millisecond)
		})
	}
}
