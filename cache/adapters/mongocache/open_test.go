package mongocache_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/mongocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// openURL returns the server's URI naming coll in its path, with the
// parameters kv (name, value, ...) and, unless the URI sets it, the server
// selection timeout that connect uses.
func openURL(t testing.TB, coll *mongo.Collection, kv ...string) string {
	t.Helper()
	uri, _ := serverURI(t)
	u, err := url.Parse(uri)
	must(t, err)
	q := u.Query()
	// A database in the server's URI is where its credentials are
	// checked; the path now names the test's database instead.
	if authDB := strings.Trim(u.Path, "/"); authDB != "" && !q.Has("authSource") {
		q.Set("authSource", authDB)
	}
	if !q.Has("serverSelectionTimeoutMS") {
		q.Set("serverSelectionTimeoutMS", "5000")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.Path, u.RawPath, u.RawQuery = "/"+coll.Database().Name()+"/"+coll.Name(), "", q.Encode()
	return u.String()
}

// The URL's database, collection and prefix reach the adapter, and Close
// disconnects the client that Open connected, once.
func TestOpenOwnsItsClient(t *testing.T) {
	uri, _ := serverURI(t)
	coll := newCollection(t, connect(t, uri))
	a, err := cache.Open(t.Context(), openURL(t, coll, "prefix", "app:"))
	must(t, err)
	c, ok := a.(*mongocache.Cache)
	if !ok {
		t.Fatalf("mongodb:// opened a %T", a)
	}
	opened := mongocache.Collection(c)
	if opened.Database().Name() != coll.Database().Name() || opened.Name() != coll.Name() {
		t.Errorf("opened %s.%s, want %s.%s", opened.Database().Name(), opened.Name(), coll.Database().Name(), coll.Name())
	}
	ctx := t.Context()
	must(t, c.Set(ctx, "k", []byte("v"), 0))
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "app:k"}}).Err(); err != nil {
		t.Errorf("document app:k: %v", err)
	}
	must(t, c.Close())
	if err := opened.Database().Client().Ping(ctx, nil); !errors.Is(err, mongo.ErrClientDisconnected) {
		t.Errorf("Ping on the client after Close: %v, want mongo.ErrClientDisconnected", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// The driver's options reach the client: with serverSelectionTimeoutMS, a
// server that does not answer makes Open fail after that long, well before
// its context ends (the driver's default is 30 s). The error is not an
// invalid URL, and does not show the password.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	a, err := cache.Open(ctx, "mongodb://user:s3cret@127.0.0.1:1/db/coll?serverSelectionTimeoutMS=300")
	if err == nil {
		a.Close()
		t.Fatal("Open of a closed port succeeded")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Open failed after %v: serverSelectionTimeoutMS=300 did not reach the driver", took)
	}
	if errors.Is(err, cache.ErrInvalidURL) || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "xxxxx:xxxxx@") {
		t.Errorf("Open of a closed port: %v; want a connection error with the password hidden", err)
	}
}

// Every URL here fails before anything connects, with a message that names
// the problem and never shows the password.
func TestOpenBadURLs(t *testing.T) {
	cachetest.BadURLs(t, map[string]string{
		"mongodb://u:s3cret@h:1":                                    "no database and collection in the path",
		"mongodb://u:s3cret@h:1/":                                   "no database and collection in the path",
		"mongodb://u:s3cret@h:1/db":                                 "no collection in the path: want mongodb://host:port/database/collection",
		"mongodb://u:s3cret@h:1/db/":                                "no collection in the path",
		"mongodb://u:s3cret@h:1//coll":                              "no database in the path",
		"mongodb://u:s3cret@h:1/db/a/b":                             `path "/db/a/b" has more than a database and a collection`,
		"mongodb:h":                                                 "want mongodb://host:port/database/collection",
		"mongodb://u:s3cret@h:1/db/c?tabel=x":                       "unknown parameter tabel (this scheme accepts prefix, timeout and the options",
		"mongodb://u:s3cret@h:1/db/c?prefix=%FF":                    "must be valid UTF-8",
		"mongodb://u:s3cret@h:1/db/c?prefix=a&prefix=b":             `prefix="a,b": want given once`,
		"mongodb://u:s3cret@h:1/db/c?timeout=0":                     `timeout="0": want a positive duration`,
		"mongodb://u:s3cret@h:1/db/c?serverSelectionTimeoutMS=soon": `invalid value for "serverSelectionTimeoutMS": "soon"`,
		"mongodb://u:s3cret@h:1/db/c?authMechanism=BOGUS":           "invalid auth mechanism",
		"mongodb+srv://u:s3cret@h:27017/db/c":                       "URI with srv must not include a port number",
		"mongodb://u:s3cret@h:1/db/c#s3cret":                        "a fragment (#...) is not part of a mongodb URL",
		"mongodb://u:s3cret@h1:1,,h2:2/db/c":                        `host list "h1:1,,h2:2" has an empty entry`,
		"mongodb://u:s3cret@h1:1,h1:1/db/c":                         `host list "h1:1,h1:1" names h1:1 twice`,
		"mongodb://u:s3cret@h:1/db/c?appName=a&appName=b":           `parameter appName="a,b": want given once`,
	})
}

// A mongodb+srv:// name that DNS cannot resolve is a connection error, as
// a server that does not answer is: DNS may answer later, and the URL may
// well be right.
func TestOpenSRVLookupFails(t *testing.T) {
	_, err := cache.Open(t.Context(), "mongodb+srv://u:s3cret@nosuch.invalid/db/coll")
	var dnsErr *net.DNSError
	if err == nil || errors.Is(err, cache.ErrInvalidURL) || !errors.As(err, &dnsErr) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of an SRV name that does not resolve: %v; want the *net.DNSError, not cache.ErrInvalidURL", err)
	}
}
