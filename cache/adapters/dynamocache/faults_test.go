package dynamocache_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// Faults between the adapter and a real server, injected by a proxy: every
// call ends with an error by its context's deadline, although the SDK
// retries (three attempts, with backoffs of up to 20 s), and the adapter
// works again once the network does.
func TestFaults(t *testing.T) {
	direct := newClient(endpoint(t))
	table := newTable(t, direct)
	u, _ := url.Parse(endpoint(t))
	proxy := faultproxy.Start(t, u.Host)
	c := newCache(t, newClient("http://"+proxy.Addr()), table, dynamocache.WithPrefix(prefix()))

	cachetest.RunFaults(t, c, proxy, 300*time.Millisecond)
}
