package mongocache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/mongocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"github.com/cachelib-go/cachelib/session/sessiontest"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The test server, found through this variable; the default is the
// FerretDB that scripts/services.sh starts.
const (
	envURI = "CACHELIB_MONGODB_URI"
	defURI = "mongodb://127.0.0.1:27018/"
	testDB = "cachelib_test"
)

// serverURI returns the server's URI after checking that its host accepts
// connections, and its host:port.
func serverURI(t testing.TB) (uri, host string) {
	t.Helper()
	uri = os.Getenv(envURI)
	if uri == "" {
		uri = defURI
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("%s=%q: %v", envURI, uri, err)
	}
	return uri, testenv.Addr(t, envURI+" host", strings.Split(u.Host, ",")[0])
}

// connect returns a client of uri, disconnected when the test ends.
func connect(t testing.TB, uri string) *mongo.Client {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return client
}

var collections atomic.Int64

// newCollection returns a collection of its own, in a database of its own
// (FerretDB's SQLite backend writes one database at a time), dropped when
// the test ends.
func newCollection(t testing.TB, client *mongo.Client) *mongo.Collection {
	t.Helper()
	db := client.Database(fmt.Sprintf("%s_%d_%d_%d", testDB, os.Getpid(), time.Now().UnixNano()%1e9, collections.Add(1)))
	t.Cleanup(func() { db.Drop(context.Background()) })
	return db.Collection("cache")
}

func uniquePrefix() string {
	return fmt.Sprintf("t%d-%d:", os.Getpid(), collections.Add(1))
}

var quiet = slog.New(slog.DiscardHandler)

// testTimeout is the per-call timeout of the tests' adapters unless they
// set one: FerretDB, shared by everyone testing on a loaded machine, takes
// longer than the 5 s default over some single commands (each reads the
// whole collection), and a call that waits its turn for a key lock waits
// for the calls ahead of it. The tests check the contract; TestFaults
// checks the timeout, with one of its own. A call that hangs still fails
// within a minute rather than at the test binary's timeout.
const testTimeout = time.Minute

func newCache(t testing.TB, coll *mongo.Collection, opts ...mongocache.Option) *mongocache.Cache {
	t.Helper()
	c, err := mongocache.New(t.Context(), coll, append([]mongocache.Option{mongocache.WithLogger(quiet), mongocache.WithTimeout(testTimeout)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestConformance runs the contract with a prefix (every adapter shares one
// collection) and without one (an adapter per collection). The prefixed
// adapters are opened by URL, each with a client of its own, as cache.Open
// makes them; FerretDB makes every run of the suite slow (its concurrent
// Increment rule alone takes most of a minute), so the URL path has no
// run of its own.
func TestConformance(t *testing.T) {
	uri, _ := serverURI(t)
	client := connect(t, uri)
	t.Run("prefix-by-url", func(t *testing.T) {
		coll := newCollection(t, client)
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return cachetest.Open(t, openURL(t, coll, "prefix", uniquePrefix(), "timeout", testTimeout.String()))
		}, cachetest.WithTTLResolution(mongocache.Resolution))
	})
	t.Run("no-prefix", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, newCollection(t, client))
		}, cachetest.WithTTLResolution(mongocache.Resolution))
	})
}

func TestSessions(t *testing.T) {
	uri, _ := serverURI(t)
	client := connect(t, uri)
	coll := newCollection(t, client)
	sessiontest.Run(t, func(t *testing.T) cache.Adapter {
		return newCache(t, coll, mongocache.WithPrefix(uniquePrefix()))
	}, sessiontest.WithTTLResolution(mongocache.Resolution))
}

func BenchmarkAdapter(b *testing.B) {
	uri, _ := serverURI(b)
	client := connect(b, uri)
	coll := newCollection(b, client)
	cachetest.RunBenchmarks(b, func(b *testing.B) cache.Adapter {
		return newCache(b, coll, mongocache.WithPrefix(uniquePrefix()))
	})
}

// New reports what the server does about expiry, and on FerretDB (which
// answers NotImplemented to a TTL index) carries on without one.
func TestTTLIndex(t *testing.T) {
	uri, _ := serverURI(t)
	client := connect(t, uri)
	coll := newCollection(t, client)
	var log bytes.Buffer
	c, err := mongocache.New(t.Context(), coll, mongocache.WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	must(t, err)
	defer c.Close()
	t.Logf("server TTL index: %v; logged: %s", c.TTLIndex(), log.String())

	var info bson.M
	must(t, coll.Database().RunCommand(t.Context(), bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info))
	_, ferret := info["ferretdbVersion"]
	if ferret == c.TTLIndex() {
		t.Fatalf("TTLIndex() = %v on a server with ferretdbVersion=%v", c.TTLIndex(), info["ferretdbVersion"])
	}
	specs, err := coll.Indexes().ListSpecifications(t.Context())
	must(t, err)
	var ttl bool
	for _, s := range specs {
		ttl = ttl || s.ExpireAfterSeconds != nil
	}
	if ttl != c.TTLIndex() {
		t.Fatalf("the collection has a TTL index: %v, TTLIndex() = %v", ttl, c.TTLIndex())
	}
	want := "no TTL indexes"
	if c.TTLIndex() {
		want = "TTL index on e"
	}
	if !strings.Contains(log.String(), want) {
		t.Fatalf("New logged %q, want a line with %q", log.String(), want)
	}
	// Without the server's reaper, expiry is the adapter's: checked on
	// read, swept by DeleteExpired.
	must(t, c.Set(t.Context(), "short", []byte("v"), 50*time.Millisecond))
	time.Sleep(120 * time.Millisecond)
	if _, err := c.Get(t.Context(), "short"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get of an expired entry = %v, want ErrNotFound", err)
	}
	n, err := c.DeleteExpired(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
}

// A library that logs on every Open fills its users' logs: cache.Open, and
// New without WithLogger, log nothing at Info or above through
// slog.Default (what they report is TTLIndex's to tell).
func TestQuietByDefault(t *testing.T) {
	uri, _ := serverURI(t)
	coll := newCollection(t, connect(t, uri))
	var buf bytes.Buffer
	// SetDefault also sends the log package's output to the handler, and
	// putting the default Logger back does not undo that.
	defer func(w io.Writer, flags int) { log.SetOutput(w); log.SetFlags(flags) }(log.Writer(), log.Flags())
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	cachetest.Open(t, openURL(t, coll, "prefix", uniquePrefix()))
	c, err := mongocache.New(t.Context(), coll)
	must(t, err)
	defer c.Close()
	if buf.Len() != 0 {
		t.Fatalf("Open and New logged through slog.Default:\n%s", buf.String())
	}
}

// The documents are what the package documentation describes: raw readers
// see the key as the _id, a value as binary, a counter as a 64-bit
// integer, and the expiry as a date.
func TestDocumentLayout(t *testing.T) {
	uri, _ := serverURI(t)
	client := connect(t, uri)
	coll := newCollection(t, client)
	c := newCache(t, coll, mongocache.WithPrefix("app:"))
	defer c.Close()
	ctx := t.Context()
	must(t, c.Set(ctx, "user:1", []byte("Ada"), time.Hour))
	must(t, c.Set(ctx, "n", []byte("10"), 0))
	if n, err := c.Increment(ctx, "n", 5); err != nil || n != 15 {
		t.Fatalf("Increment(n, 5) after Set 10 = %d, %v; want 15", n, err)
	}
	must(t, c.Set(ctx, "\xffbad", []byte("x"), 0))

	raw := func(id string) bson.M {
		t.Helper()
		var m bson.M
		must(t, coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&m))
		return m
	}
	user := raw("app:user:1")
	if v, ok := user["v"].(bson.Binary); !ok || string(v.Data) != "Ada" || user["p"] != "app:" {
		t.Fatalf("document of user:1 = %v", user)
	}
	if e, ok := user["e"].(bson.DateTime); !ok || time.Until(e.Time()) < 59*time.Minute || time.Until(e.Time()) > time.Hour {
		t.Fatalf("expiry of user:1 = %#v, want a date an hour from now", user["e"])
	}
	counter := raw("app:n")
	if n, ok := counter["n"].(int64); !ok || n != 15 || counter["v"] != nil {
		t.Fatalf("document of counter n = %v, want n: int64(15) and no v", counter)
	}
	cachetest.WantValue(t, c, "n", "15")
	// Set turns the counter back into a value document.
	must(t, c.Set(ctx, "n", []byte("x"), 0))
	if counter = raw("app:n"); counter["n"] != nil {
		t.Fatalf("document of n after Set = %v, want no counter", counter)
	}
	raw("app:\x01" + "_2JhZA") // base64url of "\xffbad"
}

// Clear removes this cache's documents only: not another prefix's, not
// documents of the same collection written by other code, whatever their
// _id, and not those of a prefix that extends this one.
func TestClearLeavesForeignDocuments(t *testing.T) {
	uri, _ := serverURI(t)
	client := connect(t, uri)
	coll := newCollection(t, client)
	ctx := t.Context()
	plain := newCache(t, coll)
	short := newCache(t, coll, mongocache.WithPrefix("a"))
	long := newCache(t, coll, mongocache.WithPrefix("ab"))
	for _, c := range []*mongocache.Cache{plain, short, long} {
		defer c.Close()
		must(t, c.Set(ctx, "k", []byte("v"), 0))
	}
	_, err := coll.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: "foreign"}, {Key: "v", Value: "x"}},
		bson.D{{Key: "_id", Value: "ak2"}, {Key: "name", Value: "looks like a's key k2"}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "p", Value: "other"}},
	})
	must(t, err)
	count := func() int64 {
		n, err := coll.CountDocuments(ctx, bson.D{})
		must(t, err)
		return n
	}
	before := count()
	must(t, plain.Clear(ctx))
	must(t, short.Clear(ctx))
	if n := count(); n != before-2 {
		t.Fatalf("%d documents after two Clears, want %d", n, before-2)
	}
	cachetest.WantValue(t, long, "k", "v")
	for _, id := range []any{"foreign", "ak2"} {
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err(); err != nil {
			t.Fatalf("foreign document %v: %v", id, err)
		}
	}
}

// Of N concurrent Adds over an expired entry exactly one wins; and a
// concurrent Increment of it starts from 0, never from the expired value.
func TestAddOverExpiredConcurrent(t *testing.T) {
	uri, _ := serverURI(t)
	client := connect(t, uri)
	c := newCache(t, newCollection(t, client))
	defer c.Close()
	ctx := t.Context()
	for round := range 5 {
		key := fmt.Sprintf("k%d", round)
		must(t, c.Set(ctx, key, []byte("old"), 20*time.Millisecond))
		time.Sleep(40 * time.Millisecond)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				ok, err := c.Add(ctx, key, []byte(fmt.Sprint(i)), 0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d Adds over an expired entry won, want 1", round, wins.Load())
		}
	}
}

func TestTooLarge(t *testing.T) {
	uri, _ := serverURI(t)
	client := connect(t, uri)
	c := newCache(t, newCollection(t, client))
	defer c.Close()
	ctx := t.Context()
	must(t, c.Set(ctx, "k", []byte("old"), 0))
	big := make([]byte, mongocache.MaxDocumentSize)
	if err := c.Set(ctx, "k", big, 0); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set of 16 MiB = %v, want ErrTooLarge", err)
	}
	if _, err := c.Add(ctx, "new", big, 0); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Add of 16 MiB = %v, want ErrTooLarge", err)
	}
	if err := c.SetMany(ctx, map[string][]byte{"k": big}, 0); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("SetMany of 16 MiB = %v, want ErrTooLarge", err)
	}
	cachetest.WantValue(t, c, "k", "old")
	// Just under the limit is stored.
	fits := big[:mongocache.MaxDocumentSize-4096]
	must(t, c.Set(ctx, "k", fits, 0))
	got, err := c.Get(ctx, "k")
	if err != nil || !bytes.Equal(got, fits) {
		t.Fatalf("Get of a %d-byte value: %d bytes, %v", len(fits), len(got), err)
	}
}

func TestBadPrefix(t *testing.T) {
	uri, _ := serverURI(t)
	coll := newCollection(t, connect(t, uri))
	for _, p := range []string{"\xff", "\x00lock"} {
		if _, err := mongocache.New(t.Context(), coll, mongocache.WithPrefix(p)); err == nil {
			t.Fatalf("New with prefix %q succeeded", p)
		}
	}
}

// The path for servers with atomic single-document updates (one
// conditional call per step) cannot race-test on FerretDB, whose updates
// are not atomic, but its answers can be checked one call at a time.
func TestAtomicUpdatePath(t *testing.T) {
	uri, _ := serverURI(t)
	c := newCache(t, newCollection(t, connect(t, uri)), mongocache.WithPrefix("x:"))
	defer c.Close()
	t.Logf("the server needs key locks: %v", mongocache.LocksKeys(c))
	mongocache.UseAtomicUpdates(c)
	ctx := t.Context()
	incr := func(key string, delta, want int64) {
		t.Helper()
		if n, err := c.Increment(ctx, key, delta); err != nil || n != want {
			t.Fatalf("Increment(%q, %d) = %d, %v; want %d", key, delta, n, err, want)
		}
	}
	incr("new", 5, 5)
	incr("new", -7, -2)
	cachetest.WantValue(t, c, "new", "-2")
	must(t, c.Set(ctx, "dec", []byte("10"), time.Hour))
	incr("dec", 5, 15)
	incr("dec", 1, 16)
	cachetest.WantValue(t, c, "dec", "16")
	must(t, c.Set(ctx, "max", []byte("9223372036854775807"), 0))
	if _, err := c.Increment(ctx, "max", 1); !errors.Is(err, cache.ErrOverflow) {
		t.Fatalf("Increment(MaxInt64 as text, 1) = %v, want ErrOverflow", err)
	}
	incr("max", -1, 9223372036854775806)
	incr("max", 1, 9223372036854775807)
	if _, err := c.Increment(ctx, "max", 1); !errors.Is(err, cache.ErrOverflow) {
		t.Fatalf("Increment(MaxInt64 counter, 1) = %v, want ErrOverflow", err)
	}
	cachetest.WantValue(t, c, "max", "9223372036854775807")
	must(t, c.Set(ctx, "text", []byte("abc"), 0))
	if _, err := c.Increment(ctx, "text", 1); !errors.Is(err, cache.ErrNotInteger) {
		t.Fatalf("Increment(abc) = %v, want ErrNotInteger", err)
	}
	cachetest.WantValue(t, c, "text", "abc")
	cachetest.Expiring(t, 30*time.Millisecond, mongocache.Resolution, func(x *cachetest.Attempt) {
		x.Set(c, "short", "41")
		n, err := c.Increment(ctx, "short", 1) // keeps the expiry
		if err != nil || n != 42 {
			x.Live(fmt.Errorf("Increment(short, 1) after Set 41 = %d, %v; want 42", n, err))
		}
		if ok, err := c.Add(ctx, "short", []byte("x"), 0); err != nil || ok {
			x.Live(fmt.Errorf("Add over a live entry = %v, %v; want false", ok, err))
		}
		x.Set(c, "gone", "41")
		x.Expire()
		cachetest.WantMiss(t, c, "short")
		incr("gone", 1, 1) // an expired entry counts as 0
		ok, err := c.Add(ctx, "short", []byte("new"), 0)
		if err != nil || !ok {
			t.Fatalf("Add over an expired entry = %v, %v; want true", ok, err)
		}
		cachetest.WantValue(t, c, "short", "new")
	})
	ok, err := c.Add(ctx, "absent", []byte("a"), 0)
	if err != nil || !ok {
		t.Fatalf("Add of an absent key = %v, %v; want true", ok, err)
	}
}
