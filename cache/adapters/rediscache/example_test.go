package rediscache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/redis/go-redis/v9"
)

// The example needs a Redis server (scripts/services.sh starts one on
// 127.0.0.1:6390), so it is compiled but not run by go test.
func Example() {
	ctx := context.Background()
	// ContextTimeoutEnabled lets each call's context deadline bound it.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6390", ContextTimeoutEnabled: true})
	defer client.Close() // the adapter never closes the caller's client

	rc, err := rediscache.New(client, rediscache.WithPrefix("example:"))
	if err != nil {
		panic(err)
	}
	defer rc.Close()

	type user struct{ Name string }
	users := cache.New[user](rc, cache.WithDefaultTTL(time.Minute))
	if err := users.Set(ctx, "user:1", user{Name: "Ada"}); err != nil {
		panic(err)
	}
	u, err := users.Get(ctx, "user:1")
	fmt.Println(u.Name, err)
	_, err = users.Get(ctx, "user:2")
	fmt.Println(errors.Is(err, cache.ErrNotFound))

	// Counters are INCRBY on the server: atomic across every process.
	n, err := cache.Increment(ctx, rc, "visits", 1)
	fmt.Println(n, err)

	// Clear deletes the keys under "example:" only.
	if err := rc.Clear(ctx); err != nil {
		panic(err)
	}
}

// Sharing one Redis Cluster: keys of a prefix with a hash tag all live in
// one slot, so batches are a single command on a single node.
func ExampleNew_cluster() {
	ctx := context.Background()
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close()

	sessions, err := rediscache.New(client, rediscache.WithPrefix("{sessions}:"))
	if err != nil {
		panic(err)
	}
	defer sessions.Close()
	_ = sessions.SetMany(ctx, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, time.Hour)
	hits, err := sessions.GetMany(ctx, []string{"a", "b", "c"})
	fmt.Println(len(hits), err)
}
