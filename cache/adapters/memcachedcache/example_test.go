package memcachedcache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memcachedcache"
)

// A cache on two Memcached servers behind a consistent-hashing Ring, in the
// namespace "myapp". It needs the servers, so it has no checked output.
func Example() {
	ctx := context.Background()
	ring, err := memcachedcache.NewRing("127.0.0.1:11311", "127.0.0.1:11312")
	if err != nil {
		panic(err)
	}
	client := memcache.NewFromSelector(ring)
	client.Timeout = time.Second // bounds each command; contexts bound each call
	defer client.Close()         // the adapter's Close leaves the client open

	mc, err := memcachedcache.New(client, memcachedcache.WithPrefix("myapp"))
	if err != nil {
		panic(err)
	}
	defer mc.Close()

	type user struct{ Name string }
	users := cache.New[user](mc, cache.WithDefaultTTL(10*time.Minute))
	if err := users.Set(ctx, "user:1", user{Name: "Ada"}); err != nil {
		panic(err)
	}
	u, err := users.Get(ctx, "user:1")
	fmt.Println(u.Name, err)

	// Counters are ASCII decimal, changed in place by memcached's incr.
	n, err := cache.Increment(ctx, mc, "visits", 1)
	fmt.Println(n, err)

	// Clear hides every key of "myapp" at once, on every server, and
	// touches nothing else.
	if err := mc.Clear(ctx); err != nil {
		panic(err)
	}
}

// Which server a key goes to depends only on the key and the server names,
// so every client with the same list agrees. A client uses the ring through
// memcache.NewFromSelector(ring).
func ExampleNewRing() {
	ring, err := memcachedcache.NewRing("10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211")
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"user:1", "user:2", "user:3", "user:4", "user:5", "user:6"} {
		addr, _ := ring.PickServer(key)
		fmt.Println(key, addr)
	}
	// Output:
	// user:1 10.0.0.3:11211
	// user:2 10.0.0.3:11211
	// user:3 10.0.0.1:11211
	// user:4 10.0.0.3:11211
	// user:5 10.0.0.1:11211
	// user:6 10.0.0.2:11211
}
