package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
	"github.com/cachelib-go/cachelib/internal/testenv"
)

// The dynalite server of scripts/services.sh, as in the adapter's tests.
const (
	dynamoEndpointEnv = "CACHELIB_DYNAMODB_ENDPOINT"
	dynamoEndpointDef = "http://127.0.0.1:8001"
	dynamoTable       = "cachelib-bench"
	dynamoPrefix      = "cachelib-bench:"
)

// dynamoKeys are the partition keys dynamocache stores benchKeys under:
// what the raw client is given, for the same server work.
var dynamoKeys = func() []map[string]types.AttributeValue {
	keys := make([]map[string]types.AttributeValue, nkeys)
	for i, k := range benchKeys {
		keys[i] = map[string]types.AttributeValue{dynamocache.AttrKey: &types.AttributeValueMemberB{Value: []byte(dynamoPrefix + k)}}
	}
	return keys
}()

// newDynamo returns a client of the server and a dynamocache on the bench
// table (created when missing), with every benchmark key set; the keys are
// deleted afterwards.
func newDynamo(b *testing.B) (*dynamodb.Client, *dynamocache.Cache) {
	endpoint := os.Getenv(dynamoEndpointEnv)
	if endpoint == "" {
		endpoint = dynamoEndpointDef
	}
	u, err := url.Parse(endpoint)
	must(b, err)
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		testenv.Unavailable(b, "DynamoDB at %s (%s) is not reachable: %v", endpoint, dynamoEndpointEnv, err)
	}
	conn.Close()
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("cachelib", "cachelib", ""),
	})
	ctx := context.Background()
	c, err := dynamocache.New(ctx, client, dynamoTable, dynamocache.WithCreateTable(), dynamocache.WithPrefix(dynamoPrefix),
		dynamocache.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	must(b, err)
	b.Cleanup(func() { c.Clear(ctx) })
	fill(b, c)
	return client, c
}

func BenchmarkDynamoGet(b *testing.B) {
	ctx := context.Background()
	b.Run("dynamocache", func(b *testing.B) {
		_, c := newDynamo(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := c.Get(ctx, benchKeys[i%nkeys])
			must(b, err)
			sink = v
		}
	})
	b.Run("aws-sdk", func(b *testing.B) {
		client, _ := newDynamo(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// The same call: a strongly consistent GetItem.
			out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: aws.String(dynamoTable), Key: dynamoKeys[i%nkeys], ConsistentRead: aws.Bool(true),
			})
			must(b, err)
			sink = out.Item[dynamocache.AttrValue].(*types.AttributeValueMemberB).Value
		}
	})
}

func BenchmarkDynamoSet(b *testing.B) {
	ctx := context.Background()
	b.Run("dynamocache", func(b *testing.B) {
		_, c := newDynamo(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, c.Set(ctx, benchKeys[i%nkeys], benchValue, 0))
		}
	})
	b.Run("aws-sdk", func(b *testing.B) {
		client, _ := newDynamo(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(dynamoTable),
				Item: map[string]types.AttributeValue{
					dynamocache.AttrKey:   dynamoKeys[i%nkeys][dynamocache.AttrKey],
					dynamocache.AttrValue: &types.AttributeValueMemberB{Value: benchValue},
				},
			})
			must(b, err)
		}
	})
}
