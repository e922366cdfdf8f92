package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
)

func Example() {
	ctx := context.Background()
	mem, err := memorycache.New()
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	type user struct{ Name string }
	users := cache.New[user](mem, cache.WithDefaultTTL(time.Minute))
	if err := users.Set(ctx, "user:1", user{Name: "Ada"}); err != nil {
		panic(err)
	}
	u, err := users.Get(ctx, "user:1")
	fmt.Println(u.Name, err)
	_, err = users.Get(ctx, "user:2")
	fmt.Println(errors.Is(err, cache.ErrNotFound))
	// Output:
	// Ada <nil>
	// true
}

func ExampleCache_GetOrSet() {
	ctx := context.Background()
	mem, _ := memorycache.New()
	defer mem.Close()
	squares := cache.New[int](mem)

	load := func(context.Context) (int, error) {
		fmt.Println("loading")
		return 12 * 12, nil
	}
	v, _ := squares.GetOrSet(ctx, "12", load) // a miss: load runs
	fmt.Println(v)
	v, _ = squares.GetOrSet(ctx, "12", load) // a hit
	fmt.Println(v)
	// Output:
	// loading
	// 144
	// 144
}

func ExampleIncrement() {
	ctx := context.Background()
	mem, _ := memorycache.New()
	defer mem.Close()

	_ = mem.Set(ctx, "hits", []byte("10"), 0)
	n, _ := cache.Increment(ctx, mem, "hits", 5)
	raw, _ := mem.Get(ctx, "hits")
	fmt.Println(n, string(raw))
	// Output: 15 15
}
