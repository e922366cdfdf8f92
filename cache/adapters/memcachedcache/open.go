package memcachedcache

import (
	"context"
	"fmt"
	"net"
	"net/url"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/urlparam"
)

// Importing the package registers the scheme "memcached" with cache.Open:
//
//	memcached://host1:11211,host2:11211?prefix=app&timeout=500ms
//
// opens a Cache on a new client of the listed servers (port 11211 where
// none is given), which a Ring spreads keys over. The parameters are the options and the client's settings:
// prefix (WithPrefix), generation_name (WithGenerationName),
// generation_refresh (WithGenerationRefresh, a duration), max_value_size
// (WithMaxValueSize, in bytes with an optional unit such as "1MiB"),
// timeout (WithTimeout, the bound of each call, default 5 s), io_timeout
// (the client's Timeout of each command, default memcache.DefaultTimeout)
// and max_idle_conns (the client's MaxIdleConns per server, default
// memcache.DefaultMaxIdleConns). Open checks that every server answers
// within ctx. Close closes the client.
func init() { cache.Register("memcached", open) }

func open(ctx context.Context, u *url.URL) (cache.Adapter, error) {
	if u.Opaque != "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, urlparam.Errorf("want memcached://host:port[,host:port...]")
	}
	if err := urlparam.NoUser(u, "gomemcache speaks the text protocol, which has no login"); err != nil {
		return nil, err
	}
	servers, err := urlparam.Hosts(u)
	if err != nil {
		return nil, err
	}
	p := urlparam.New(u)
	opts := []Option{
		WithPrefix(p.String("prefix", "")),
		WithGenerationName(p.String("generation_name", "gen")),
		WithGenerationRefresh(p.Duration("generation_refresh", DefaultGenerationRefresh)),
		WithMaxValueSize(int(p.Size("max_value_size", DefaultMaxValueSize))),
		WithTimeout(p.Timeout(calltimeout.Default)),
	}
	timeout := p.Duration("io_timeout", memcache.DefaultTimeout)
	maxIdle := p.Int("max_idle_conns", memcache.DefaultMaxIdleConns, 1)
	if err := p.Done(); err != nil {
		return nil, err
	}
	for i, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			servers[i] = net.JoinHostPort(s, "11211")
		}
	}
	ring, err := NewRing(servers...)
	if err != nil {
		return nil, err
	}
	client := memcache.NewFromSelector(ring)
	client.Timeout, client.MaxIdleConns = timeout, maxIdle
	c, err := New(client, opts...)
	if err != nil {
		client.Close()
		return nil, err
	}
	c.ownsClient = true
	if _, err := run(c, ctx, c.watched(ctx, true), func(context.Context, *call) (struct{}, error) { return struct{}{}, client.Ping() }); err != nil {
		c.Close()
		return nil, fmt.Errorf("memcachedcache: ping: %w", err)
	}
	return c, nil
}
