package filecache_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/filecache"
)

func Example() {
	dir, err := os.MkdirTemp("", "filecache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Every process that opens the same folder shares the entries, and
	// Add and Increment stay atomic between them.
	c, err := filecache.New(dir, filecache.WithThreshold(10_000), filecache.WithJanitor(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if err := c.Set(ctx, "greeting", []byte("hello"), time.Hour); err != nil {
		log.Fatal(err)
	}
	v, err := c.Get(ctx, "greeting")
	fmt.Printf("%s %v\n", v, err)

	added, _ := c.Add(ctx, "greeting", []byte("hi"), 0)
	fmt.Println("added:", added)

	n, _ := c.Increment(ctx, "visits", 1)
	fmt.Println("visits:", n)

	// The typed front end works on top of it like on any adapter.
	users := cache.New[map[string]int](c)
	if err := users.Set(ctx, "ages", map[string]int{"ada": 36}); err != nil {
		log.Fatal(err)
	}
	ages, _ := users.Get(ctx, "ages")
	fmt.Println("ada:", ages["ada"])

	// Output:
	// hello <nil>
	// added: false
	// visits: 1
	// ada: 36
}
