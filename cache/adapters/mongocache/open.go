package mongocache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/urlparam"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// Importing the package registers the schemes "mongodb" and "mongodb+srv"
// with cache.Open:
//
//	mongodb://[user:password@]host[:port][,host2[:port2],...]/database/collection[?prefix=app:&option=value...]
//	mongodb+srv://[user:password@]cluster.example.com/database/collection[?prefix=app:&option=value...]
//
// The URL is a MongoDB connection string whose path names a database and a
// collection, both required (a '/' inside a name is written %2F). Two
// parameters belong to this package: prefix is WithPrefix, and timeout
// (such as 500ms) is WithTimeout. Every other
// parameter is an option of the driver's connection string (appName,
// replicaSet, authSource, tls, serverSelectionTimeoutMS, ...); one the
// driver does not know is an error here, where the driver would ignore it;
// so are a fragment and an empty or repeated entry in the host list, which
// the driver skips. For mongodb+srv, a DNS lookup that fails is a
// connection error, not an invalid URL (it looks up the SRV records while
// reading the URL, without ctx, and once more when it connects).
// As in any connection string, the database is also where the credentials
// are checked unless authSource names another.
//
// Open connects, and New asks the server what it is and creates the
// indexes, within ctx: a server that does not answer makes Open fail when
// ctx ends or when the driver gives up selecting a server
// (serverSelectionTimeoutMS, 30 s by default). New logs at debug level
// through slog.Default(). Close disconnects the client, waiting at most
// disconnectTimeout for operations in flight.
func init() {
	cache.Register("mongodb", open)
	cache.Register("mongodb+srv", open)
}

// disconnectTimeout bounds how long Close waits for the operations in
// flight on a client that cache.Open connected.
const disconnectTimeout = 10 * time.Second

func open(ctx context.Context, u *url.URL) (cache.Adapter, error) {
	p := urlparam.New(u)
	prefix := p.String("prefix", "")
	timeout := p.Timeout(calltimeout.Default)
	if err := p.Single("readPreferenceTags"); err != nil {
		return nil, err
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, urlparam.Errorf("want %s://host:port/database/collection", u.Scheme)
	}
	// The driver skips an empty entry of a host list without a word.
	if _, err := urlparam.Hosts(u); err != nil {
		return nil, err
	}
	db, coll, err := namespace(u)
	if err != nil {
		return nil, err
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("%w: %w", cache.ErrInvalidURL, err)
	}
	// The driver reads the database from the path, not the collection.
	du := *u
	du.Path, du.RawPath, du.RawQuery = "/"+db, "", p.Rest()
	uri := du.String()
	// The driver ignores options it does not know, so the string is
	// read here first to find them (for mongodb+srv, that looks up the
	// DNS records twice).
	cs, err := connstring.ParseAndValidate(uri)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		// The SRV lookup of mongodb+srv failed: the URL may well be
		// right, and DNS answer later.
		return nil, fmt.Errorf("mongocache: %w", err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", cache.ErrInvalidURL, err)
	}
	if len(cs.UnknownOptions) > 0 {
		return nil, urlparam.Errorf("unknown parameter %s (this scheme accepts prefix, timeout and the options of a MongoDB connection string)",
			strings.Join(slices.Sorted(maps.Keys(cs.UnknownOptions)), ", "))
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("mongocache: connect: %w", err)
	}
	c, err := New(ctx, client.Database(db).Collection(coll), WithPrefix(prefix), WithTimeout(timeout))
	if err != nil {
		disconnect(client)
		return nil, err
	}
	c.ownsClient = true
	return c, nil
}

// namespace returns the database and the collection that the path of u
// names.
func namespace(u *url.URL) (db, coll string, err error) {
	const want = "want %s://host:port/database/collection"
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	for i, s := range segs {
		if segs[i], err = url.PathUnescape(s); err != nil {
			return "", "", urlparam.Errorf("path %q: %v", u.EscapedPath(), err)
		}
	}
	switch {
	case len(segs) == 1 && segs[0] == "":
		return "", "", urlparam.Errorf("no database and collection in the path: "+want, u.Scheme)
	case len(segs) > 2:
		return "", "", urlparam.Errorf("path %q has more than a database and a collection (a '/' inside a name is written %%2F): "+want, u.Path, u.Scheme)
	case segs[0] == "":
		return "", "", urlparam.Errorf("no database in the path: "+want, u.Scheme)
	case len(segs) == 1 || segs[1] == "":
		return "", "", urlparam.Errorf("no collection in the path: "+want, u.Scheme)
	}
	return segs[0], segs[1], nil
}

// disconnect disconnects a client that cache.Open connected.
func disconnect(client *mongo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), disconnectTimeout)
	defer cancel()
	return client.Disconnect(ctx)
}
