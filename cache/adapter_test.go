package cache_test

import (
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

// bare hides every optional capability, so the helpers' fallbacks carry
// GetMany, SetMany and DeleteMany, and Increment must refuse.
type bare struct{ cache.Adapter }

func TestFallbacksConform(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Adapter {
		m, err := memorycache.New()
		if err != nil {
			t.Fatal(err)
		}
		return bare{m}
	}, cachetest.WithTTLResolution(memorycache.Resolution))
}
