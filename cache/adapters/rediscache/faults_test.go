package rediscache_test

import (
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
	"github.com/redis/go-redis/v9"
)

// Faults between the adapter and a real server, injected by a proxy: every
// call ends with an error by its context's deadline, and the adapter works
// again once the network does.
func TestFaults(t *testing.T) {
	proxy := faultproxy.Start(t, standaloneAddr(t))
	client := closeWith(t, redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true}))
	const deadline = 300 * time.Millisecond
	a := newCache(t, client, rediscache.WithPrefix(uniquePrefix("%s:")), rediscache.WithTimeout(deadline))
	cachetest.RunFaults(t, a, proxy, deadline)
}
