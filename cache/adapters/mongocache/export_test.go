package mongocache

import "go.mongodb.org/mongo-driver/v2/mongo"

// UseAtomicUpdates makes c take the path it takes on servers whose updates
// are atomic (MongoDB), so that its sequential behaviour can be tested on
// FerretDB.
func UseAtomicUpdates(c *Cache) { c.lockKeys = false }

// LocksKeys reports whether c takes key locks (FerretDB).
func LocksKeys(c *Cache) bool { return c.lockKeys }

// Collection returns the collection of c, for tests of the clients
// cache.Open connects.
func Collection(c *Cache) *mongo.Collection { return c.coll }
