package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/mongocache"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The MongoDB-compatible server of scripts/services.sh (FerretDB), as in
// the adapter's tests.
const (
	mongoURIEnv = "CACHELIB_MONGODB_URI"
	mongoURIDef = "mongodb://127.0.0.1:27018/"
	mongoPrefix = "cachelib-bench:"
)

// mongoDoc is the document mongocache writes, for the raw driver to read
// and write the same shape.
type mongoDoc struct {
	ID string        `bson:"_id"`
	P  string        `bson:"p"`
	V  []byte        `bson:"v"`
	E  bson.DateTime `bson:"e"`
}

// newMongo returns a collection of a database of its own and a mongocache
// on it, with every benchmark key set; the database is dropped afterwards.
func newMongo(b *testing.B) (*mongo.Collection, *mongocache.Cache) {
	uri := os.Getenv(mongoURIEnv)
	if uri == "" {
		uri = mongoURIDef
	}
	u, err := url.Parse(uri)
	must(b, err)
	testenv.Addr(b, mongoURIEnv+" host", u.Host)
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	must(b, err)
	ctx := context.Background()
	b.Cleanup(func() { client.Disconnect(ctx) })
	db := client.Database(fmt.Sprintf("cachelib_bench_%d_%d", os.Getpid(), time.Now().UnixNano()))
	b.Cleanup(func() { db.Drop(ctx) })
	coll := db.Collection("cache")
	c, err := mongocache.New(ctx, coll, mongocache.WithPrefix(mongoPrefix), mongocache.WithLogger(slog.New(slog.DiscardHandler)))
	must(b, err)
	fill(b, c)
	return coll, c
}

// mongoIDs are the _ids mongocache gives benchKeys.
var mongoIDs = func() []string {
	ids := make([]string, nkeys)
	for i, k := range benchKeys {
		ids[i] = mongoPrefix + k
	}
	return ids
}()

func BenchmarkMongoGet(b *testing.B) {
	ctx := context.Background()
	b.Run("mongocache", func(b *testing.B) {
		_, c := newMongo(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := c.Get(ctx, benchKeys[i%nkeys])
			must(b, err)
			sink = v
		}
	})
	b.Run("driver", func(b *testing.B) {
		coll, _ := newMongo(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var d mongoDoc
			must(b, coll.FindOne(ctx, bson.D{{Key: "_id", Value: mongoIDs[i%nkeys]}}).Decode(&d))
			sink = d.V
		}
	})
}

func BenchmarkMongoSet(b *testing.B) {
	ctx := context.Background()
	b.Run("mongocache", func(b *testing.B) {
		_, c := newMongo(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			must(b, c.Set(ctx, benchKeys[i%nkeys], benchValue, 0))
		}
	})
	b.Run("driver", func(b *testing.B) {
		coll, _ := newMongo(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			id := mongoIDs[i%nkeys]
			doc := mongoDoc{ID: id, P: mongoPrefix, V: benchValue, E: bson.DateTime(math.MaxInt64)}
			_, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
			must(b, err)
		}
	})
}
