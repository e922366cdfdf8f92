// Package mongocache is a cache.Adapter on a MongoDB collection, through
// go.mongodb.org/mongo-driver/v2. It also works on FerretDB, which speaks the
// MongoDB wire protocol, and is tested on FerretDB v1 with its SQLite backend.
//
// # Documents
//
// Each key is one document:
//
//	{_id: "<prefix><key>", p: "<prefix>", v: BinData(value), e: Date(expiry)}  // after Set or Add
//	{_id: "<prefix><key>", p: "<prefix>", n: NumberLong(counter), e: Date(expiry)}  // after Increment
//
// The _id is a string, so that lookups by _id use the primary index on every
// server (FerretDB only pushes a filter down to its storage when it is a
// lone string _id). A key that is not valid UTF-8, or that starts with the
// byte 0x00 or 0x01 while there is no prefix, is stored as 0x01 followed by
// its unpadded URL-safe base64: no two keys share an _id, and no _id starts
// with 0x00, which the key locks below use. The prefix itself must be valid
// UTF-8 that does not start with 0x00.
//
// e is the expiry as a BSON date (milliseconds, the TTL resolution), or the
// largest date for an entry that never expires. Reads compare it with the
// clock of the process, so every entry expires on time whether or not the
// server removes it: New creates a TTL index on e where the server supports
// one (MongoDB) and carries on where it answers NotImplemented (FerretDB).
// DeleteExpired (cache.Sweeper) removes expired documents either way.
// GetWithTTL (cache.TTLGetter) measures the time an entry has left on the
// same clock of the process, from the e of the document Get would read.
//
// A counter keeps n as a 64-bit integer so that Increment is one $inc; Get
// formats it as ASCII decimal. Increment of a value document holding ASCII
// decimal converts it to a counter with a compare-and-set on the exact
// stored bytes, keeping its expiry; a Set replaces a counter with a value
// document.
//
// Clear deletes the documents whose p equals the prefix, and nothing else:
// documents other code writes into the same collection are never touched
// as long as they have no p field with that value, and another prefix's
// documents never are.
//
// # Timeouts
//
// Every call is bounded by its context and by the Cache's own timeout
// (WithTimeout, default 5 s) when the context has no earlier deadline, so
// that a server that stops answering cannot block a caller whose context
// has none: the driver waits for a reply as long as the context lets it.
// On FerretDB it includes the wait for a key lock (see below). Clear and
// DeleteExpired apply it to each round trip (a batch of up to 1000
// documents) rather than to the whole call.
//
// # Lost replies
//
// Add, Delete, DeleteMany and Increment must not be applied twice, nor
// report a second try's view of the first one's work. The Cache sends a
// write again only after the server refused it (Set and SetMany, when an
// insert race lost on FerretDB), and the driver does so only where
// the server deduplicates the retry (retryable writes, on a replica set or
// a sharded cluster: the server applies the command once and answers the
// retry with the first outcome); DeleteMany, Clear and DeleteExpired,
// which delete several documents, are never retried by it. On a standalone
// server and on FerretDB the driver does not retry writes at all. A write
// whose reply is lost (the connection broke, or the deadline passed first)
// returns an error matching cache.ErrUncertain: Set, Add, Delete, SetMany,
// DeleteMany, Increment, Clear and DeleteExpired can return it. An error
// of Set, Add, Delete or Increment that does not match it means the write
// was not applied: the command never left, or the server refused it.
// Reads never return it.
//
// # FerretDB
//
// FerretDB v1 applies an update by reading the document, changing it in Go
// and writing it back, without a transaction: two concurrent $inc of one
// document can lose one. Its inserts, though, are atomic (a unique _id).
// When New finds a FerretDB server (buildInfo reports ferretdbVersion),
// Increment and Add hold a per-key lock while they run: a document with _id
// 0x00 followed by the entry's _id, inserted to take the lock and deleted to
// release it. Its lease ends with the call's deadline (the Cache's timeout
// at most), so a lock left by a crashed process or a lost reply holds
// others back for at most that long; a lock whose insert lost its reply is
// removed at once when the connection broke before the deadline. Calls of
// one Cache for the same key wait for each other in the process and only
// one of them contends for the lock. Set and Delete take no lock: on
// FerretDB a Set racing an Increment of the same key may be lost, as any
// two updates racing there may be.
//
// Close does not disconnect a client given to New, which belongs to the
// caller; it disconnects the one that cache.Open connected for a mongodb://
// or mongodb+srv:// URL.
package mongocache

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Resolution is the expiry resolution: BSON dates count milliseconds.
const Resolution = time.Millisecond

// MaxDocumentSize is the largest document MongoDB and FerretDB store. A
// value whose document (value, key twice and a few fields) would be larger
// gives cache.ErrTooLarge.
const MaxDocumentSize = 16 << 20

// docOverhead bounds, in bytes, what a document holds besides the value and
// the _id and prefix strings: field names, types and lengths, the expiry.
const docOverhead = 64

// never is the expiry of an entry without one: the largest BSON date.
const never = bson.DateTime(math.MaxInt64)

// escape starts the _id of a key stored in base64; lockMark starts the _id
// of a key lock. No other _id starts with either.
const (
	escape   = "\x01"
	lockMark = "\x00"
)

// codeNotImplemented is the server's answer to an index option it lacks.
const codeNotImplemented = 238

// Option configures a Cache.
type Option func(*config)

type config struct {
	prefix  string
	logger  *slog.Logger
	timeout time.Duration
}

// WithPrefix puts the cache's keys under prefix (default none), so that
// several caches can share a collection and Clear removes only this one's
// entries. The prefix must be valid UTF-8 and not start with the byte 0x00.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithLogger sets where New reports, at debug level, whether the server
// expires documents by itself (a TTL index) or leaves that to
// DeleteExpired. The default is slog.Default(). Debug, because New runs on
// every cache.Open and TTLIndex tells the same to those who ask.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithTimeout bounds every call by d (default 5 s) when its context has no
// earlier deadline; Clear and DeleteExpired apply it to each batch of up
// to 1000 documents instead. It must be positive. On FerretDB it is also
// the longest a key lock left by a failed call can hold the key. In
// cache.Open URLs it is the timeout parameter ("timeout=500ms").
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Cache is a cache.Adapter on a MongoDB collection. It also implements
// cache.Incrementer, cache.Batcher, cache.Sweeper and cache.TTLGetter.
// Create it with New.
type Cache struct {
	coll       *mongo.Collection
	prefix     string
	lockKeys   bool // the server's updates are not atomic (FerretDB)
	turns      turns
	ttlIndex   bool
	timeout    time.Duration
	ownsClient bool // opened by cache.Open: Close disconnects the client
	closed     atomic.Bool
}

var _ interface {
	cache.Adapter
	cache.Incrementer
	cache.Batcher
	cache.Sweeper
	cache.TTLGetter
} = (*Cache)(nil)

// New returns a Cache storing its entries in coll, which may hold other
// documents too (see Clear). It asks the server what it is and creates two
// indexes if they are missing: a TTL index on e where the server supports
// one, and one on (p, e) for Clear and DeleteExpired.
func New(ctx context.Context, coll *mongo.Collection, opts ...Option) (*Cache, error) {
	cfg := config{logger: slog.Default(), timeout: calltimeout.Default}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkPrefix(cfg.prefix); err != nil {
		return nil, err
	}
	if err := calltimeout.Check("mongocache", cfg.timeout); err != nil {
		return nil, err
	}
	c := &Cache{coll: coll, prefix: cfg.prefix, timeout: cfg.timeout}

	var info struct {
		FerretDBVersion string `bson:"ferretdbVersion"`
	}
	// Each request of New is bounded by the timeout, as every call is.
	if err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) error {
		return coll.Database().RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	}); err != nil {
		return nil, fmt.Errorf("mongocache: buildInfo: %w", err)
	}
	c.lockKeys = info.FerretDBVersion != ""

	err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) error {
		_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: "e", Value: 1}},
			Options: options.Index().SetName("cachelib_ttl").SetExpireAfterSeconds(0),
		})
		return err
	})
	var ce mongo.CommandError
	switch {
	case err == nil:
		c.ttlIndex = true
		cfg.logger.DebugContext(ctx, "mongocache: the server removes expired entries (TTL index on e)", "collection", coll.Name())
	case errors.As(err, &ce) && ce.Code == codeNotImplemented:
		cfg.logger.DebugContext(ctx, "mongocache: the server has no TTL indexes; expired entries stay until DeleteExpired or an overwrite",
			"collection", coll.Name(), "server", ce.Message)
	default:
		return nil, fmt.Errorf("mongocache: create the TTL index on %s: %w", coll.Name(), err)
	}
	if err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) error {
		_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: "p", Value: 1}, {Key: "e", Value: 1}},
			Options: options.Index().SetName("cachelib_prefix_expiry"),
		})
		return err
	}); err != nil {
		return nil, fmt.Errorf("mongocache: create the prefix index on %s: %w", coll.Name(), err)
	}
	return c, nil
}

// checkPrefix refuses a prefix that New cannot use, which open does too
// before it connects.
func checkPrefix(prefix string) error {
	if !utf8.ValidString(prefix) || strings.HasPrefix(prefix, lockMark) {
		return fmt.Errorf("mongocache: prefix %q must be valid UTF-8 and not start with 0x00", prefix)
	}
	return nil
}

// TTLIndex reports whether the server removes expired documents by itself
// (New created a TTL index). Reads ignore expired documents either way.
func (c *Cache) TTLIndex() bool { return c.ttlIndex }

// Close marks the cache closed; the cache starts no goroutines. It leaves
// a client given to New connected, since that client belongs to the
// caller, and disconnects the client that cache.Open connected, waiting at
// most disconnectTimeout for operations in flight to end.
func (c *Cache) Close() error {
	if c.closed.Swap(true) || !c.ownsClient {
		return nil
	}
	return disconnect(c.coll.Database().Client())
}

func (c *Cache) open(ctx context.Context) error {
	if c.closed.Load() {
		return cache.ErrClosed
	}
	return ctx.Err()
}

// id returns the _id of key (see the package documentation).
func (c *Cache) id(key string) string {
	if utf8.ValidString(key) && (c.prefix != "" || !strings.HasPrefix(key, lockMark) && !strings.HasPrefix(key, escape)) {
		return c.prefix + key
	}
	return c.prefix + escape + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// now is the current time as a BSON date: an entry is live while its
// expiry is after it.
func now() bson.DateTime { return bson.DateTime(time.Now().UnixMilli()) }

// expiry returns the expiry of an entry written now with ttl, rounded up to
// the next millisecond so that it never comes early.
func expiry(ttl time.Duration) bson.DateTime {
	if ttl == 0 {
		return never
	}
	at := time.Now().Add(cache.RoundTTL(ttl, Resolution)).UnixNano()
	return bson.DateTime((at + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

// valueDoc is the document Set and Add write.
func (c *Cache) valueDoc(id string, value []byte, exp bson.DateTime) bson.D {
	if value == nil {
		value = []byte{} // nil would be stored as null
	}
	return bson.D{{Key: "_id", Value: id}, {Key: "p", Value: c.prefix}, {Key: "v", Value: value}, {Key: "e", Value: exp}}
}

func (c *Cache) checkSize(key string, value []byte) error {
	if n := len(value) + 2*len(c.id(key)) + docOverhead; n > MaxDocumentSize {
		return fmt.Errorf("%w: key %q: a document of about %d bytes, the server stores at most %d", cache.ErrTooLarge, clip(key), n, MaxDocumentSize)
	}
	return nil
}

// entry is a stored document as reads decode it.
type entry struct {
	ID string        `bson:"_id"`
	V  []byte        `bson:"v"`
	N  *int64        `bson:"n"`
	E  bson.DateTime `bson:"e"`
}

func (e *entry) live(at bson.DateTime) bool { return e.E > at }

// value returns the entry's value: its bytes, or its counter in decimal.
func (e *entry) value() []byte {
	if e.N != nil {
		return cache.FormatInt(*e.N)
	}
	if e.V == nil {
		return []byte{}
	}
	return e.V
}

// find reads the document of id, or returns nil when there is none.
func (c *Cache) find(ctx context.Context, id string, opts ...options.Lister[options.FindOneOptions]) (*entry, error) {
	var e entry
	err := c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, opts...).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// Get returns a copy of the value stored under key.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := c.get(ctx, key)
	if err != nil {
		return nil, err
	}
	return e.value(), nil
}

// GetWithTTL returns a copy of the value stored under key and the time it
// has left to live, 0 meaning that it never expires, from the same single
// find as Get; it makes the Cache a cache.TTLGetter, so a cache.Chain fills
// faster layers with the TTL that is left.
//
// The time left is rounded down as cache.TTLLeft says.
func (c *Cache) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	e, err := c.get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	var exp time.Time
	if e.E != never {
		exp = e.E.Time()
	}
	left, ok := cache.TTLLeft(exp, Resolution)
	if !ok {
		return nil, 0, cache.ErrNotFound
	}
	return e.value(), left, nil
}

// get reads the live entry of key for Get and GetWithTTL.
func (c *Cache) get(ctx context.Context, key string) (*entry, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return nil, err
	}
	e, err := c.find(ctx, c.id(key))
	if err != nil {
		return nil, fmt.Errorf("mongocache: get %q: %w", clip(key), err)
	}
	if e == nil || !e.live(now()) {
		return nil, cache.ErrNotFound
	}
	return e, nil
}

// Has reports whether key has an unexpired entry, reading only its expiry.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return false, err
	}
	e, err := c.find(ctx, c.id(key), options.FindOne().SetProjection(bson.D{{Key: "e", Value: 1}}))
	if err != nil {
		return false, fmt.Errorf("mongocache: has %q: %w", clip(key), err)
	}
	return e != nil && e.live(now()), nil
}

// setAttempts bounds the retries of an upsert that lost a race to insert
// the same _id: MongoDB retries such an upsert itself, FerretDB reports the
// duplicate key, and the next attempt finds the document and replaces it.
const setAttempts = 3

// Set stores a copy of value under key, replacing a value or a counter.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	if err := c.checkSize(key, value); err != nil {
		return err
	}
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return err
	}
	id := c.id(key)
	doc := c.valueDoc(id, value, expiry(ttl))
	for range setAttempts {
		_, err = write(c.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true)))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("mongocache: set %q: %w", clip(key), err)
	}
	return nil
}

// Add stores value only when key has no unexpired entry, atomically, also
// over an expired document.
func (c *Cache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := cache.CheckTTL(ttl); err != nil {
		return false, err
	}
	if err := c.checkSize(key, value); err != nil {
		return false, err
	}
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return false, err
	}
	id := c.id(key)
	doc := c.valueDoc(id, value, expiry(ttl))
	add := c.addAtomic
	if c.lockKeys {
		add = c.addLocked
	}
	added, err := add(ctx, id, doc)
	if err != nil {
		return false, fmt.Errorf("mongocache: add %q: %w", clip(key), err)
	}
	return added, nil
}

// addAtomic is one upsert whose filter matches only an expired document,
// so that a live one makes the insert fail on its _id.
func (c *Cache) addAtomic(ctx context.Context, id string, doc bson.D) (bool, error) {
	filter := bson.D{{Key: "_id", Value: id}, {Key: "e", Value: bson.D{{Key: "$lte", Value: now()}}}}
	_, err := write(c.coll.ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true)))
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil // a live entry
	case err != nil:
		return false, err
	}
	return true, nil
}

// addLocked reads and writes by _id alone under the key lock.
func (c *Cache) addLocked(ctx context.Context, id string, doc bson.D) (added bool, err error) {
	err = c.withLock(ctx, id, func(ctx context.Context) error {
		old, err := c.find(ctx, id, options.FindOne().SetProjection(bson.D{{Key: "e", Value: 1}}))
		if err != nil || old != nil && old.live(now()) {
			return err
		}
		_, err = write(c.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true)))
		switch {
		case mongo.IsDuplicateKeyError(err):
			return nil // a Set, which takes no lock, created it meanwhile
		case err != nil:
			return err
		}
		added = true
		return nil
	})
	return added, err
}

// Delete removes key and reports whether an unexpired entry existed. An
// expired document is removed too.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return false, err
	}
	var e entry
	err = c.coll.FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: c.id(key)}}).Decode(&e)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("mongocache: delete %q: %w", clip(key), failWrite(err))
	}
	return e.live(now()), nil
}

// Clear removes every document of this cache's prefix (those whose p field
// equals it), and nothing else, in batches (see sweep). Documents written
// during a Clear may survive it.
func (c *Cache) Clear(ctx context.Context) error {
	if err := c.open(ctx); err != nil {
		return err
	}
	if _, err := c.sweep(ctx, bson.D{{Key: "p", Value: c.prefix}}); err != nil {
		return fmt.Errorf("mongocache: clear: %w", err)
	}
	return nil
}

// DeleteExpired removes this cache's expired documents, in batches (see
// sweep), and counts them.
func (c *Cache) DeleteExpired(ctx context.Context) (int, error) {
	if err := c.open(ctx); err != nil {
		return 0, err
	}
	n, err := c.sweep(ctx, bson.D{{Key: "p", Value: c.prefix}, {Key: "e", Value: bson.D{{Key: "$lte", Value: now()}}}})
	if err != nil {
		return n, fmt.Errorf("mongocache: delete expired: %w", err)
	}
	return n, nil
}

// sweepBatch is how many documents Clear and DeleteExpired delete in one
// round trip.
const sweepBatch = 1000

// sweep deletes the documents filter matches and counts them: one pass of
// a cursor over their _id, and for each batch of it a delete of those
// documents that still match. Each round trip, a batch of the cursor or a
// delete, gets the Cache's timeout, so that a large collection takes as
// long as it needs while a server that stops answering still ends the
// call.
func (c *Cache) sweep(ctx context.Context, filter bson.D) (int, error) {
	var cur *mongo.Cursor
	err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) (err error) {
		cur, err = c.coll.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(sweepBatch))
		return err
	})
	if err != nil {
		return 0, err
	}
	defer calltimeout.Step(ctx, c.timeout, cur.Close)
	n := 0
	for {
		var ids []bson.RawValue
		err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) error {
			for cur.Next(ctx) {
				ids = append(ids, cur.Current.Lookup("_id"))
				if cur.RemainingBatchLength() == 0 {
					break
				}
			}
			return cur.Err()
		})
		if err != nil || len(ids) == 0 {
			return n, err
		}
		var res *mongo.DeleteResult
		err = calltimeout.Step(ctx, c.timeout, func(ctx context.Context) (err error) {
			res, err = write(c.coll.DeleteMany(ctx, append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, filter...)))
			return err
		})
		if err != nil {
			return n, err
		}
		n += int(res.DeletedCount)
	}
}

// Increment adds delta to the counter under key, atomically. See package
// cache for the rules.
//
// The common cases take one findAndModify: an $inc of a live counter whose
// filter also rules out an overflow, or, when there is no document, an
// upsert creating the counter. Anything else (a value document, an expired
// one, a counter that would overflow) makes the upsert fail on the _id, and
// the document is read to decide: convert a decimal value to a counter with
// a compare-and-set on its bytes, replace an expired document, or report
// ErrNotInteger or ErrOverflow. A lost race starts over. On FerretDB the
// key lock makes the read, the sum and the write by _id one step instead.
func (c *Cache) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return 0, err
	}
	id := c.id(key)
	var sum int64
	if c.lockKeys {
		err = c.withLock(ctx, id, func(ctx context.Context) error { return retry(ctx, c.incrementLocked, id, delta, &sum) })
	} else {
		err = retry(ctx, c.increment, id, delta, &sum)
	}
	if err != nil {
		return 0, fmt.Errorf("mongocache: increment %q: %w", clip(key), err)
	}
	return sum, nil
}

// retry calls attempt until it is done, fails or ctx ends.
func retry(ctx context.Context, attempt func(context.Context, string, int64, *int64) (bool, error), id string, delta int64, sum *int64) error {
	for {
		done, err := attempt(ctx, id, delta, sum)
		if done || err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// counterOf returns the integer a live entry holds, or 0 and never (the
// expiry of a new counter) for a missing or expired one.
func counterOf(e *entry, at bson.DateTime) (n int64, exp bson.DateTime, err error) {
	switch {
	case e == nil || !e.live(at):
		return 0, never, nil
	case e.N != nil:
		return *e.N, e.E, nil
	}
	n, err = cache.ParseInt(e.V)
	return n, e.E, err
}

func (c *Cache) counterDoc(id string, n int64, exp bson.DateTime) bson.D {
	return bson.D{{Key: "_id", Value: id}, {Key: "p", Value: c.prefix}, {Key: "n", Value: n}, {Key: "e", Value: exp}}
}

// incrementLocked reads and writes by _id alone under the key lock; it
// starts over only when a Set, which takes no lock, created the document
// meanwhile.
func (c *Cache) incrementLocked(ctx context.Context, id string, delta int64, sum *int64) (done bool, err error) {
	old, err := c.find(ctx, id)
	if err != nil {
		return false, err
	}
	n, exp, err := counterOf(old, now())
	if err != nil {
		return false, err
	}
	s, err := cache.AddInt(n, delta)
	if err != nil {
		return false, err
	}
	_, err = write(c.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, c.counterDoc(id, s, exp), options.Replace().SetUpsert(true)))
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	*sum = s
	return err == nil, err
}

// increment makes one attempt; done is false when it lost a race.
func (c *Cache) increment(ctx context.Context, id string, delta int64, sum *int64) (done bool, err error) {
	at := now()
	// n is a number that delta can be added to without overflow.
	room := bson.D{{Key: "$type", Value: "long"}}
	switch {
	case delta > 0:
		room = bson.D{{Key: "$lte", Value: math.MaxInt64 - delta}}
	case delta < 0:
		room = bson.D{{Key: "$gte", Value: math.MinInt64 - delta}}
	}
	var e entry
	err = c.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "e", Value: bson.D{{Key: "$gt", Value: at}}}, {Key: "n", Value: room}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "n", Value: delta}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "p", Value: c.prefix}, {Key: "e", Value: never}}},
		},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
	).Decode(&e)
	switch {
	case err == nil:
		if e.N == nil {
			return false, fmt.Errorf("the counter document has no field n")
		}
		*sum = *e.N
		return true, nil
	case !mongo.IsDuplicateKeyError(err):
		return false, failWrite(err)
	}

	old, err := c.find(ctx, id)
	if err != nil || old == nil {
		return false, err // gone meanwhile: the upsert will create it
	}
	if !old.live(at) {
		// Counts as 0; the new counter never expires.
		res, err := write(c.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "e", Value: old.E}}, c.counterDoc(id, delta, never)))
		if err != nil || res.MatchedCount == 0 {
			return false, err
		}
		*sum = delta
		return true, nil
	}
	n, _, err := counterOf(old, at)
	if err != nil {
		return false, err
	}
	s, err := cache.AddInt(n, delta)
	if err != nil || old.N != nil {
		// An overflow, or the counter changed since the $inc failed.
		return false, err
	}
	// Convert the decimal value to a counter if it is still the same
	// bytes with the same expiry.
	res, err := write(c.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "v", Value: old.V}, {Key: "e", Value: old.E}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "n", Value: s}}},
			{Key: "$unset", Value: bson.D{{Key: "v", Value: ""}}},
		}))
	if err != nil || res.MatchedCount == 0 {
		return false, err
	}
	*sum = s
	return true, nil
}

// GetMany returns the hits among keys, with one query.
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return nil, err
	}
	hits := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return hits, nil
	}
	byID := make(map[string]string, len(keys))
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		id := c.id(k)
		if _, dup := byID[id]; !dup {
			byID[id] = k
			ids = append(ids, id)
		}
	}
	cur, err := c.coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, fmt.Errorf("mongocache: get many: %w", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	at := now()
	for cur.Next(ctx) {
		var e entry
		if err := cur.Decode(&e); err != nil {
			return nil, fmt.Errorf("mongocache: get many: %w", err)
		}
		if k, ok := byID[e.ID]; ok && e.live(at) {
			hits[k] = e.value()
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("mongocache: get many: %w", err)
	}
	return hits, nil
}

// SetMany stores every item with the same ttl, with one unordered bulk
// write of upserts.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	for k, v := range items {
		if err := c.checkSize(k, v); err != nil {
			return err
		}
	}
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	exp := expiry(ttl)
	models := make([]mongo.WriteModel, 0, len(items))
	for k, v := range items {
		id := c.id(k)
		models = append(models, mongo.NewReplaceOneModel().
			SetFilter(bson.D{{Key: "_id", Value: id}}).SetReplacement(c.valueDoc(id, v, exp)).SetUpsert(true))
	}
	for range setAttempts {
		// Upserts are idempotent: after a lost insert race, writing
		// every item again is simpler than picking out the failed ones.
		_, err = write(c.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)))
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("mongocache: set many: %w", err)
	}
	return nil
}

// DeleteMany removes keys and counts the unexpired entries among them: one
// delete of the live documents, whose count is the answer, then one of the
// expired rest, whose failure changes nothing that reads see (DeleteExpired
// or an overwrite removes them) and is not reported.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = c.id(k)
	}
	in := bson.D{{Key: "$in", Value: ids}}
	res, err := write(c.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: in}, {Key: "e", Value: bson.D{{Key: "$gt", Value: now()}}}}))
	if err != nil {
		return 0, fmt.Errorf("mongocache: delete many: %w", err)
	}
	_, _ = c.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: in}})
	return int(res.DeletedCount), nil
}

// clip shortens a key for an error message.
func clip(key string) string {
	if len(key) > 64 {
		return key[:64] + "..."
	}
	return key
}
