package memcachedcache

import "github.com/bradfitz/gomemcache/memcache"

// Client returns the client of c, for tests of the clients cache.Open makes.
func Client(c *Cache) *memcache.Client { return c.client }
