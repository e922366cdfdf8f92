package rediscache

import "github.com/redis/go-redis/v9"

// Client returns the client of c, for tests of the clients cache.Open makes.
func Client(c *Cache) redis.UniversalClient { return c.client }
