package mongocache

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// UseAtomicUpdates makes c take the path it takes on servers whose updates
// are atomic (MongoDB), so that its sequential behaviour can be tested on
// FerretDB.
func UseAtomicUpdates(c *Cache) { c.lockKeys = false }

// LocksKeys reports whether c takes key locks (FerretDB).
func LocksKeys(c *Cache) bool { return c.lockKeys }

// Collection returns the collection of c, for tests of the clients
// cache.Open connects.
func Collection(c *Cache) *mongo.Collection { return c.coll }

// ID returns the _id of key in c.
func ID(c *Cache, key string) string { return c.id(key) }

// Timeout returns the per-call timeout of c.
func Timeout(c *Cache) time.Duration { return c.timeout }
