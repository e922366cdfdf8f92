package session_test

import (
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/filecache"
	"github.com/cachelib-go/cachelib/session/sessiontest"
)

func TestSessionsMemorycache(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) cache.Adapter {
		c, err := memorycache.New()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}, sessiontest.WithTTLResolution(memorycache.Resolution))
}

func TestSessionsFilecache(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) cache.Adapter {
		c, err := filecache.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}
