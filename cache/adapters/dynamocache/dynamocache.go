// Package dynamocache is a cache.Adapter on an Amazon DynamoDB table, through
// github.com/aws/aws-sdk-go-v2/service/dynamodb.
//
// # Items
//
// One item per key, in a table whose partition key is a Binary attribute
// named "pk" and which has no sort key (WithCreateTable creates one):
//
//	pk   B  the prefix, then the key's bytes (any bytes: invalid UTF-8 and
//	        NUL included; see Limits below for keys over DynamoDB's limit)
//	v    B  the value, for an item written by Set, Add or SetMany
//	n    N  the counter, for an item written by Increment (then v is absent)
//	exp  N  when the item expires, in Unix milliseconds; absent: never
//	ttl  N  the same instant in Unix seconds, rounded up, for DynamoDB's own
//	        TTL reaper (the table's TTL attribute, enabled by WithCreateTable)
//
// DynamoDB deletes expired items lazily, up to days late, and some
// implementations (dynalite) have no TTL at all: every read checks exp
// itself, with strongly consistent reads so that a read sees every write
// that returned before it. Expiry is measured on the local clock, so the
// clocks of processes sharing a table should agree to well under the TTLs
// they use. DeleteExpired (cache.Sweeper) removes expired items where no
// reaper does. GetWithTTL (cache.TTLGetter) measures the time an entry has
// left on the same local clock, from the exp of the item Get would read.
//
// Every call is bounded by its context, including the SDK's own retries of
// failed requests and their backoff, and by the Cache's own timeout
// (WithTimeout, default 5 s) when the context has no earlier deadline, so
// that a service that stops answering cannot block a caller whose context
// has none (the SDK's HTTP client has no timeout of its own for a reply).
// Clear and DeleteExpired apply it to each page of their Scan and to the
// deletes of each page rather than to the whole call.
//
// # Lost replies
//
// The SDK sends a request again when an attempt fails with a broken
// connection, a timeout or a 5xx answer, and the service may have applied
// the first attempt. Set, SetMany and Clear keep those retries: putting or
// deleting the same item twice does it once. Add (a conditional PutItem),
// Delete and DeleteMany (conditional DeleteItems), Increment (an
// UpdateItem ADD, and the conditional writes that make a counter) and
// DeleteExpired are never sent again once an attempt may have been
// applied, since the second would add twice or report a condition failing
// on the first one's work; they are retried only after the service refused
// them (a 4xx answer such as throttling) or no connection could be made. A
// write whose outcome is unknown returns an error matching
// cache.ErrUncertain: Set, Add, Delete, SetMany, DeleteMany, Increment,
// Clear and DeleteExpired can return it. An error of Set, Add, Delete or
// Increment that does not match it means the write was not applied. Reads
// never return it, and keep the SDK's retries.
//
// # Operations
//
//   - Add is a PutItem conditioned on the item being absent or expired.
//   - Increment is an UpdateItem ADD on n, conditioned on the item being a
//     live counter whose result stays within int64, so it is one atomic
//     call and keeps the item's expiry. A value written by Set("10") is
//     first converted to a counter by a compare-and-set on v; an absent or
//     expired item is replaced by a new counter, without expiry, by a
//     conditional PutItem. Get formats a counter back as ASCII decimal.
//   - Delete is a DeleteItem conditioned on the item being live, so it
//     reports exactly whether an unexpired entry existed (an expired item
//     is left for the reaper or DeleteExpired).
//   - GetMany is BatchGetItem in chunks of 100 and SetMany BatchWriteItem in
//     chunks of 25, both retrying what the service left unprocessed with
//     exponential backoff (25 ms doubling to 2 s, up to 12 times, cut short
//     by the context).
//   - DeleteMany is one conditional DeleteItem per key, up to 16 at a time,
//     rather than BatchWriteItem: a batch delete reports nothing about what
//     it removed, and reading first would count entries that a concurrent
//     writer changes in between. Each key's count is exact.
//   - Clear scans the table for keys under the prefix and deletes them with
//     BatchWriteItem. Without a prefix the table is the namespace and Clear
//     empties it. A Scan reads the whole table, so Clear and DeleteExpired
//     cost read capacity in proportion to the table, not to the prefix.
//
// # Limits
//
// An item is at most 400 KB: a value that would make it larger gives
// cache.ErrTooLarge before anything is sent (see MaxValueSize). A partition
// key is at most 2048 bytes and not empty: a key whose prefixed form is
// longer than 2015 bytes (or empty) is stored as exactly 2048 bytes, its
// first bytes and its SHA-256, a form no key stored as itself can take, so
// such keys still never collide.
package dynamocache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
)

// Resolution is the smallest TTL the adapter keeps: shorter positive TTLs
// are rounded up to it.
const Resolution = time.Millisecond

// Attribute names of an item (see the package documentation).
const (
	AttrKey    = "pk"
	AttrValue  = "v"
	AttrCount  = "n"
	AttrExpiry = "exp"
	// AttrTTL is the attribute that WithCreateTable names as the table's
	// TTL attribute.
	AttrTTL = "ttl"
)

// MaxItemSize is DynamoDB's limit on the size of an item, in bytes.
const MaxItemSize = 400 * 1024

// MaxKeySize is DynamoDB's limit on the size of a partition key, in bytes.
const MaxKeySize = 2048

// itemOverhead is the size of an item besides its key and value bytes, by
// DynamoDB's rules: the length of every attribute name, and 21 bytes, the
// most a number can take, for each of exp and ttl.
const itemOverhead = len(AttrKey) + len(AttrValue) + len(AttrExpiry) + 21 + len(AttrTTL) + 21

// hashedKeySize is how many bytes of a too-long key's stored form are its
// SHA-256.
const hashedKeySize = sha256.Size + 1

// MaxValueSize returns the largest value that Set accepts under a key whose
// prefixed form is keyLen bytes long: what is left of MaxItemSize after the
// key and the other attributes.
func MaxValueSize(keyLen int) int {
	return MaxItemSize - itemOverhead - min(keyLen, MaxKeySize)
}

const (
	batchGetSize   = 100 // BatchGetItem's limit on keys per call
	batchWriteSize = 25  // BatchWriteItem's limit on requests per call
	// parallelDeletes bounds the DeleteItem calls DeleteMany, Clear and
	// DeleteExpired have in flight at once.
	parallelDeletes = 16
	// casAttempts bounds Increment's retries when other writers keep
	// changing the item between its read and its conditional write.
	casAttempts = 100
)

// Option configures a Cache.
type Option func(*config)

type config struct {
	prefix  string
	create  bool
	logger  *slog.Logger
	timeout time.Duration
}

// WithPrefix puts every key of the cache under prefix, so that several
// caches share a table and Clear removes only this one's items. The default
// is no prefix: the whole table is the cache's namespace.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithCreateTable makes New create the table when it is missing: on-demand
// billing, partition key AttrKey of type Binary. New waits until the table
// is ACTIVE, then enables AttrTTL as its TTL attribute where the service
// supports it (a service that does not, such as dynalite, only gets a log
// line: the adapter enforces expiry itself). The default is to expect an
// existing table with that key schema.
func WithCreateTable() Option { return func(c *config) { c.create = true } }

// WithLogger sets where New reports, at debug level, that the table's TTL
// could not be enabled. The default is slog.Default(). Debug, because with
// WithCreateTable New says so on every cache.Open of a table whose TTL is
// already set, and reads check expiry either way.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithTimeout bounds every call by d (default 5 s) when its context has no
// earlier deadline, the SDK's retries included; Clear and DeleteExpired
// apply it to each page of their Scan and to each page's deletes instead.
// It must be positive. In cache.Open URLs it is the timeout parameter
// ("timeout=500ms").
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Cache is a cache.Adapter on a DynamoDB table. It also implements
// cache.Incrementer, cache.Batcher, cache.Sweeper and cache.TTLGetter.
// Create it with New.
type Cache struct {
	client  *dynamodb.Client
	table   *string
	prefix  string
	timeout time.Duration
	closed  atomic.Bool
}

var _ interface {
	cache.Adapter
	cache.Incrementer
	cache.Batcher
	cache.Sweeper
	cache.TTLGetter
} = (*Cache)(nil)

// New returns a cache on table through client. It checks that the table
// has the key schema the adapter needs (creating it first when
// WithCreateTable is given). The client stays the caller's: Close does not
// touch it. Every call honours its context; the client's retries happen
// within the context's deadline.
func New(ctx context.Context, client *dynamodb.Client, table string, opts ...Option) (*Cache, error) {
	cfg := config{logger: slog.Default(), timeout: calltimeout.Default}
	for _, o := range opts {
		o(&cfg)
	}
	if err := calltimeout.Check("dynamocache", cfg.timeout); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("dynamocache: nil client")
	}
	if table == "" {
		return nil, errors.New("dynamocache: empty table name")
	}
	if err := checkPrefix(cfg.prefix); err != nil {
		return nil, err
	}
	c := &Cache{client: client, table: aws.String(table), prefix: cfg.prefix, timeout: cfg.timeout}
	if cfg.create {
		if err := c.createTable(ctx); err != nil {
			return nil, err
		}
	}
	desc, err := c.describe(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(desc); err != nil {
		return nil, fmt.Errorf("dynamocache: table %s: %w", table, err)
	}
	if cfg.create {
		if err := c.enableTTL(ctx, cfg.logger); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkPrefix refuses a prefix too long for New, which open does too
// before it makes a client.
func checkPrefix(prefix string) error {
	if len(prefix) > MaxKeySize-hashedKeySize-1 {
		return fmt.Errorf("dynamocache: prefix of %d bytes leaves no room for keys within DynamoDB's %d-byte partition key", len(prefix), MaxKeySize)
	}
	return nil
}

func checkSchema(t *types.TableDescription) error {
	if len(t.KeySchema) != 1 || aws.ToString(t.KeySchema[0].AttributeName) != AttrKey {
		return fmt.Errorf("key schema must be the partition key %q alone", AttrKey)
	}
	for _, d := range t.AttributeDefinitions {
		if aws.ToString(d.AttributeName) == AttrKey && d.AttributeType != types.ScalarAttributeTypeB {
			return fmt.Errorf("partition key %q is of type %s, want B (binary): keys are arbitrary bytes", AttrKey, d.AttributeType)
		}
	}
	return nil
}

// createTable creates the table unless it exists.
func (c *Cache) createTable(ctx context.Context) error {
	err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) error {
		_, err := c.client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            c.table,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(AttrKey), AttributeType: types.ScalarAttributeTypeB}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(AttrKey), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
		})
		return err
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamocache: create table %s: %w", *c.table, err)
	}
	return nil
}

// describe returns the table's description once it is no longer being
// created. Each request is bounded by the timeout; the wait for a table
// being created, which DynamoDB may take a minute over, only by ctx.
func (c *Cache) describe(ctx context.Context) (*types.TableDescription, error) {
	for b := newBackoff(0); ; {
		var out *dynamodb.DescribeTableOutput
		err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) (err error) {
			out, err = c.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: c.table})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("dynamocache: describe table %s: %w", *c.table, err)
		}
		if out.Table.TableStatus != types.TableStatusCreating {
			return out.Table, nil
		}
		if err := b.wait(ctx); err != nil {
			return nil, fmt.Errorf("dynamocache: wait for table %s to be ACTIVE: %w", *c.table, err)
		}
	}
}

// enableTTL makes AttrTTL the table's TTL attribute where the service
// supports it.
func (c *Cache) enableTTL(ctx context.Context, logger *slog.Logger) error {
	err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) error {
		_, err := c.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               c.table,
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(AttrTTL), Enabled: aws.Bool(true)},
		})
		return err
	})
	var apiErr smithy.APIError
	switch {
	case err == nil:
	case errors.As(err, &apiErr) && (apiErr.ErrorCode() == "UnknownOperationException" || apiErr.ErrorCode() == "ValidationException"):
		// Unsupported (dynalite), or already enabled: reads check
		// expiry either way, and DeleteExpired sweeps.
		logger.LogAttrs(ctx, slog.LevelDebug, "dynamocache: TTL not enabled on the table (unsupported, or already set); reads check expiry anyway, DeleteExpired sweeps",
			slog.String("table", *c.table), slog.String("error", apiErr.ErrorMessage()), slog.String("code", apiErr.ErrorCode()))
	default:
		return fmt.Errorf("dynamocache: enable TTL on table %s: %w", *c.table, err)
	}
	return nil
}

// open reports ErrClosed after Close and the context's error once it ended,
// before any call is sent.
func (c *Cache) open(ctx context.Context) error {
	if c.closed.Load() {
		return cache.ErrClosed
	}
	return ctx.Err()
}

// pk is the partition key of key: the prefix and the key, or the hashed
// form for a key that would be too long, or empty (DynamoDB refuses an
// empty key, which only the key "" without a prefix would give).
func (c *Cache) pk(key string) []byte {
	n := len(c.prefix) + len(key)
	if 0 < n && n <= MaxKeySize-hashedKeySize {
		b := make([]byte, 0, n)
		return append(append(b, c.prefix...), key...)
	}
	// Exactly MaxKeySize bytes, which no key stored as itself reaches: the
	// key's head (padded with zeros when shorter), a 0 byte, and the key's
	// SHA-256.
	sum := sha256.Sum256([]byte(key))
	b := make([]byte, MaxKeySize-hashedKeySize, MaxKeySize)
	copy(b[copy(b, c.prefix):], key)
	b = append(b, 0)
	return append(b, sum[:]...)
}

func keyAttr(pk []byte) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberB{Value: pk}}
}

func num(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// nowMs is the instant expiry is compared with: an item whose exp is not
// after it has expired.
func nowMs() int64 { return time.Now().UnixMilli() }

// expiry returns exp for a TTL: the first millisecond at which the entry is
// gone, never sooner than ttl from now; 0 for no expiry.
func expiry(ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	ms := cache.RoundTTL(ttl, Resolution) / Resolution
	now := time.Now()
	// Rounding now up as well keeps the entry alive for at least ttl.
	start := now.UnixMilli()
	if now.Nanosecond()%int(time.Millisecond) != 0 {
		start++
	}
	if int64(ms) > math.MaxInt64-start {
		return math.MaxInt64
	}
	return start + int64(ms)
}

// item builds the item Set stores, or reports cache.ErrTooLarge.
func (c *Cache) item(key string, pk, value []byte, exp int64) (map[string]types.AttributeValue, error) {
	if limit := MaxValueSize(len(pk)); len(value) > limit {
		return nil, fmt.Errorf("dynamocache: %w: %d bytes under key %q, at most %d fit in a DynamoDB item", cache.ErrTooLarge, len(value), clip(key), limit)
	}
	if value == nil {
		value = []byte{}
	}
	it := map[string]types.AttributeValue{
		AttrKey:   &types.AttributeValueMemberB{Value: pk},
		AttrValue: &types.AttributeValueMemberB{Value: value},
	}
	if exp != 0 {
		it[AttrExpiry] = num(exp)
		it[AttrTTL] = num(exp/1000 + min(exp%1000, 1))
	}
	return it, nil
}

// expiryOf returns an item's exp, 0 for none.
func expiryOf(it map[string]types.AttributeValue) (int64, error) {
	e, ok := it[AttrExpiry].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	exp, err := strconv.ParseInt(e.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("dynamocache: item with a malformed %s attribute %q", AttrExpiry, e.Value)
	}
	return exp, nil
}

// decoded is what a stored item means at instant now.
type decoded struct {
	live    bool
	value   []byte // live and not a counter
	counter bool
	n       int64
	exp     int64 // live: its exp, 0 for none
}

func decode(it map[string]types.AttributeValue, now int64) (decoded, error) {
	if it == nil {
		return decoded{}, nil
	}
	exp, err := expiryOf(it)
	if err != nil || exp != 0 && exp <= now {
		return decoded{}, err
	}
	switch {
	case it[AttrCount] != nil:
		nv, ok := it[AttrCount].(*types.AttributeValueMemberN)
		if !ok {
			return decoded{}, fmt.Errorf("dynamocache: item with a %s attribute that is not a number", AttrCount)
		}
		n, err := strconv.ParseInt(nv.Value, 10, 64)
		if err != nil {
			return decoded{}, fmt.Errorf("dynamocache: counter %q outside the int64 range", nv.Value)
		}
		return decoded{live: true, counter: true, n: n, exp: exp}, nil
	case it[AttrValue] != nil:
		bv, ok := it[AttrValue].(*types.AttributeValueMemberB)
		if !ok {
			return decoded{}, fmt.Errorf("dynamocache: item with a %s attribute that is not binary", AttrValue)
		}
		v := bv.Value
		if v == nil {
			v = []byte{}
		}
		return decoded{live: true, value: v, exp: exp}, nil
	}
	return decoded{}, fmt.Errorf("dynamocache: item with neither %s nor %s: not written by this adapter", AttrValue, AttrCount)
}

// bytes is the value Get returns for a live item.
func (d decoded) bytes() []byte {
	if d.counter {
		return cache.FormatInt(d.n)
	}
	return d.value
}

func (c *Cache) getItem(ctx context.Context, pk []byte, projection *string) (map[string]types.AttributeValue, error) {
	in := &dynamodb.GetItemInput{TableName: c.table, Key: keyAttr(pk), ConsistentRead: aws.Bool(true)}
	if projection != nil {
		in.ProjectionExpression = projection
		in.ExpressionAttributeNames = namesFor("#k", "#e")
	}
	out, err := c.client.GetItem(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// names maps the placeholders of every expression to attribute names:
// placeholders keep expressions valid whatever DynamoDB reserves as words.
var names = map[string]string{"#k": AttrKey, "#v": AttrValue, "#n": AttrCount, "#e": AttrExpiry}

// namesFor returns the placeholders an expression uses: DynamoDB rejects
// unused ones.
func namesFor(placeholders ...string) map[string]string {
	m := make(map[string]string, len(placeholders))
	for _, p := range placeholders {
		m[p] = names[p]
	}
	return m
}

var hasProjection = aws.String("#k, #e")

// Get returns the value under key; a counter is returned as ASCII decimal.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	d, err := c.get(ctx, key)
	if err != nil {
		return nil, err
	}
	return d.bytes(), nil
}

// GetWithTTL returns the value under key, as Get does, and the time it has
// left to live, 0 meaning that it never expires, from the same single
// GetItem; it makes the Cache a cache.TTLGetter, so a cache.Chain fills
// faster layers with the TTL that is left.
//
// The time left is rounded down as cache.TTLLeft says.
func (c *Cache) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	d, err := c.get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	var exp time.Time
	if d.exp != 0 {
		exp = time.UnixMilli(d.exp)
	}
	left, ok := cache.TTLLeft(exp, Resolution)
	if !ok {
		return nil, 0, fmt.Errorf("dynamocache: %q: %w", clip(key), cache.ErrNotFound)
	}
	return d.bytes(), left, nil
}

// get reads the item of key for Get and GetWithTTL, with a strongly
// consistent GetItem, and decodes it as it is now.
func (c *Cache) get(ctx context.Context, key string) (decoded, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return decoded{}, err
	}
	it, err := c.getItem(ctx, c.pk(key), nil)
	if err != nil {
		return decoded{}, fmt.Errorf("dynamocache: Get %q: %w", clip(key), err)
	}
	d, err := decode(it, nowMs())
	if err != nil {
		return decoded{}, err
	}
	if !d.live {
		return decoded{}, fmt.Errorf("dynamocache: %q: %w", clip(key), cache.ErrNotFound)
	}
	return d, nil
}

// Has reports whether key has an unexpired entry. It reads the key and
// expiry only: the value may be up to 400 KB.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return false, err
	}
	it, err := c.getItem(ctx, c.pk(key), hasProjection)
	if err != nil {
		return false, fmt.Errorf("dynamocache: Has %q: %w", clip(key), err)
	}
	if it == nil {
		return false, nil
	}
	exp, err := expiryOf(it)
	return exp == 0 || exp > nowMs(), err
}

// Set stores value under key with a PutItem, replacing any item there.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return err
	}
	it, err := c.item(key, c.pk(key), value, expiry(ttl))
	if err != nil {
		return err
	}
	if _, err := write(ctx, c.client.PutItem, &dynamodb.PutItemInput{TableName: c.table, Item: it}, idempotent); err != nil {
		return fmt.Errorf("dynamocache: Set %q: %w", clip(key), err)
	}
	return nil
}

// absentOrExpired is the condition under which Add and a new counter may
// replace an item.
var absentOrExpired = aws.String("attribute_not_exists(#k) OR #e <= :now")

// Add stores value under key when it has no unexpired entry, with one
// conditional PutItem.
func (c *Cache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := cache.CheckTTL(ttl); err != nil {
		return false, err
	}
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return false, err
	}
	it, err := c.item(key, c.pk(key), value, expiry(ttl))
	if err != nil {
		return false, err
	}
	ok, err := c.putIfAbsent(ctx, it)
	if err != nil {
		return false, fmt.Errorf("dynamocache: Add %q: %w", clip(key), err)
	}
	return ok, nil
}

// putIfAbsent writes it unless an unexpired item has its key, and reports
// whether it did.
func (c *Cache) putIfAbsent(ctx context.Context, it map[string]types.AttributeValue) (bool, error) {
	_, err := write(ctx, c.client.PutItem, &dynamodb.PutItemInput{
		TableName:                 c.table,
		Item:                      it,
		ConditionExpression:       absentOrExpired,
		ExpressionAttributeNames:  namesFor("#k", "#e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(nowMs())},
	}, once)
	return conditional(err)
}

// conditional turns a failed condition into false.
func conditional(err error) (bool, error) {
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return false, nil
	}
	return err == nil, err
}

var liveItem = aws.String("attribute_exists(#k) AND (attribute_not_exists(#e) OR #e > :now)")

// Delete removes key and reports whether an unexpired entry existed, with
// one DeleteItem conditioned on that. An expired item is left for DynamoDB's
// reaper or DeleteExpired.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return false, err
	}
	ok, err := c.deleteLive(ctx, c.pk(key))
	if err != nil {
		return false, fmt.Errorf("dynamocache: Delete %q: %w", clip(key), err)
	}
	return ok, nil
}

func (c *Cache) deleteLive(ctx context.Context, pk []byte) (bool, error) {
	_, err := write(ctx, c.client.DeleteItem, &dynamodb.DeleteItemInput{
		TableName:                 c.table,
		Key:                       keyAttr(pk),
		ConditionExpression:       liveItem,
		ExpressionAttributeNames:  namesFor("#k", "#e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(nowMs())},
	}, once)
	return conditional(err)
}

// Close marks the cache closed; every method then returns cache.ErrClosed.
// The client is left as it is: one given to New belongs to the caller, and
// one that cache.Open made holds nothing to release (its idle HTTP
// connections close on their own). Close starts no goroutine and stops
// none: calls in flight finish on their own contexts.
func (c *Cache) Close() error {
	c.closed.Store(true)
	return nil
}

func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
