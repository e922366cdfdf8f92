package memorycache_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

func TestOpenConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Adapter { return cachetest.Open(t, "mem://?capacity=16MiB") },
		cachetest.WithTTLResolution(memorycache.Resolution))
}

// The capacity parameter is the capacity: a value above it is too large.
func TestOpenCapacity(t *testing.T) {
	a := cachetest.Open(t, "mem://?capacity=1KiB")
	if _, ok := a.(*memorycache.Cache); !ok {
		t.Fatalf("mem:// opened a %T", a)
	}
	err := a.Set(t.Context(), "k", bytes.Repeat([]byte{1}, 2048), 0)
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set of 2 KiB into capacity=1KiB: %v, want cache.ErrTooLarge", err)
	}
	if err := cachetest.Open(t, "mem://").Set(t.Context(), "k", bytes.Repeat([]byte{1}, 2048), 0); err != nil {
		t.Fatalf("Set of 2 KiB at the default capacity: %v", err)
	}
}

func TestOpenBadURLs(t *testing.T) {
	cachetest.BadURLs(t, map[string]string{
		"mem://somewhere":     "names no host or path",
		"mem:///path":         "names no host or path",
		"mem://?capacity=big": `capacity="big": want a positive size`,
		"mem://?capacity=0":   `capacity="0": want a positive size`,
		"mem://?capcity=1MiB": "unknown parameter capcity (this scheme accepts parameters capacity)",
		"mem://u:s3cret@":     "a mem URL takes no user or password: an in-process cache has nothing to log in to",
		"mem://s3cret@":       "a mem URL takes no user or password",
		"mem://#s3cret":       "a fragment (#...) is not part of a mem URL",
		"mem:s3cret":          "names no host or path",
	})
}
