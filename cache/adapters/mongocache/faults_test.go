package mongocache_test

import (
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/mongocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// Faults between the adapter and a real server, injected by a proxy: every
// call ends with an error by its context's deadline, never a panic or a
// miss, and the adapter works again once the network does.
func TestFaults(t *testing.T) {
	_, host := serverURI(t)
	proxy := faultproxy.Start(t, host)
	client := connect(t, "mongodb://"+proxy.Addr()+"/?directConnection=true")
	c := newCache(t, newCollection(t, client), mongocache.WithPrefix("faults:"))
	defer c.Close()
	cachetest.RunFaults(t, c, proxy, 500*time.Millisecond)
}
