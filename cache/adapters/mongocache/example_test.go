package mongocache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/mongocache"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The example needs a MongoDB-compatible server (scripts/services.sh starts
// FerretDB on 127.0.0.1:27018), so it is compiled but not run by go test.
func Example() {
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27018/"))
	if err != nil {
		panic(err)
	}
	defer client.Disconnect(ctx) // the adapter never disconnects the caller's client

	mc, err := mongocache.New(ctx, client.Database("app").Collection("cache"), mongocache.WithPrefix("example:"))
	if err != nil {
		panic(err)
	}
	defer mc.Close()

	type user struct{ Name string }
	users := cache.New[user](mc, cache.WithDefaultTTL(time.Minute))
	if err := users.Set(ctx, "user:1", user{Name: "Ada"}); err != nil {
		panic(err)
	}
	u, err := users.Get(ctx, "user:1")
	fmt.Println(u.Name, err)
	_, err = users.Get(ctx, "user:2")
	fmt.Println(errors.Is(err, cache.ErrNotFound))

	// A counter is a 64-bit integer in its document; Get reads it as text.
	n, err := cache.Increment(ctx, mc, "visits", 1)
	fmt.Println(n, err)

	// Without a TTL index on the server (FerretDB), sweep now and then.
	if _, err := mc.DeleteExpired(ctx); err != nil {
		panic(err)
	}
	// Clear deletes this prefix's documents only.
	if err := mc.Clear(ctx); err != nil {
		panic(err)
	}
}
