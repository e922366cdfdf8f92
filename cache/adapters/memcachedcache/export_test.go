package memcachedcache

import (
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Client returns the client of c, for tests of the clients cache.Open makes.
func Client(c *Cache) *memcache.Client { return c.client }

// Timeout returns the per-call timeout of c.
func Timeout(c *Cache) time.Duration { return c.timeout }
