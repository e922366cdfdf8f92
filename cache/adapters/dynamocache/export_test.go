package dynamocache

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Client returns the client of c, for tests of the clients cache.Open
// makes.
func Client(c *Cache) *dynamodb.Client { return c.client }

// Timeout returns the per-call timeout of c.
func Timeout(c *Cache) time.Duration { return c.timeout }
