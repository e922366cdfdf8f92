package memorycache

import (
	"context"
	"net/url"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/urlparam"
)

// Importing the package registers the scheme "mem" with cache.Open:
//
//	mem://?capacity=64MiB
//
// opens a new, empty Cache. capacity is WithCapacity, in bytes with an
// optional unit (KB, MB, GB, KiB, MiB, GiB); it defaults to DefaultCapacity.
// Every Open returns a cache of its own: two "mem://" adapters share
// nothing.
func init() { cache.Register("mem", open) }

func open(_ context.Context, u *url.URL) (cache.Adapter, error) {
	if u.Host != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return nil, urlparam.Errorf("a mem URL names no host or path: want mem:// or mem://?capacity=64MiB")
	}
	if err := urlparam.NoUser(u, "an in-process cache has nothing to log in to"); err != nil {
		return nil, err
	}
	p := urlparam.New(u)
	capacity := p.Size("capacity", DefaultCapacity)
	if err := p.Done(); err != nil {
		return nil, err
	}
	return New(WithCapacity(capacity))
}
