package dynamocache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
)

// The example needs a DynamoDB endpoint (scripts/services.sh starts dynalite
// on 127.0.0.1:8001), so it is compiled but not run by go test.
func Example() {
	ctx := context.Background()
	// Against AWS, config.LoadDefaultConfig finds region and credentials;
	// a local dynalite takes any signed request.
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	if err != nil {
		panic(err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:8001")
	})

	// WithCreateTable creates the table on first use (on-demand billing,
	// binary partition key "pk", TTL attribute "ttl").
	dc, err := dynamocache.New(ctx, client, "cache", dynamocache.WithCreateTable(), dynamocache.WithPrefix("example:"))
	if err != nil {
		panic(err)
	}
	defer dc.Close() // the client stays usable: the adapter never closes it

	type user struct{ Name string }
	users := cache.New[user](dc, cache.WithDefaultTTL(time.Minute))
	if err := users.Set(ctx, "user:1", user{Name: "Ada"}); err != nil {
		panic(err)
	}
	u, err := users.Get(ctx, "user:1")
	fmt.Println(u.Name, err)
	_, err = users.Get(ctx, "user:2")
	fmt.Println(errors.Is(err, cache.ErrNotFound))

	// Counters are an atomic ADD on the server, shared by every process.
	n, err := cache.Increment(ctx, dc, "visits", 1)
	fmt.Println(n, err)

	// Clear deletes the items under "example:" only.
	if err := dc.Clear(ctx); err != nil {
		panic(err)
	}
}
