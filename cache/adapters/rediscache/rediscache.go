// Package rediscache is a cache.Adapter on Redis, through
// github.com/redis/go-redis/v9. It works with every topology go-redis
// offers: a single server (*redis.Client), a Sentinel-managed server
// (redis.NewFailoverClient, also a *redis.Client), a Redis Cluster
// (*redis.ClusterClient) and a client-side sharded *redis.Ring.
//
// Each operation is one round trip (Clear: two per batch of keys), and Redis
// itself keeps the contract of package cache: SET PX stores with a
// millisecond TTL, SET NX PX makes Add atomic, INCRBY increments in place and
// keeps the entry's TTL, UNLINK deletes, EXISTS answers Has, and expiry is
// Redis's own. The one exception is Increment of a counter written in a
// form Redis does not parse, such as "007" (see Cache.Increment).
//
// # Batches
//
// GetMany is one MGET on a single server. On a Cluster, keys are grouped by
// hash slot and sent as one MGET per slot in a single pipeline, which
// go-redis sends to every node at once, so no CROSSSLOT error ever reaches
// the caller; on a Ring they are grouped by the shard they hash to.
// DeleteMany is grouped the same way (UNLINK); SetMany pipelines one SET per
// item. A prefix with a hash tag, such as "{app}:", puts every key of the
// adapter in one slot: batches become a single command on a single node,
// and that node holds the whole namespace.
//
// # Clear
//
// Clear deletes the keys that start with the prefix given to WithPrefix:
// SCAN MATCH with the prefix (its glob characters escaped) followed by
// UNLINK, in batches, on every master of a Cluster and every shard of a
// Ring. It never calls FLUSHDB or FLUSHALL and never touches a key outside
// the prefix. Without a prefix, Clear would have to delete every key of the
// database, so it refuses with ErrUnprefixedClear unless WithUnprefixedClear
// was given. SCAN sees every key that exists for the whole Clear; a key
// written while Clear runs may survive it. On a Ring, shards the Ring
// considers down are skipped, as go-redis's ForEachShard does.
//
// # Contexts
//
// go-redis bounds a call by its context's deadline only when the client was
// created with ContextTimeoutEnabled: true; otherwise a stalled server
// blocks a call until the client's ReadTimeout. New therefore refuses a
// *redis.Client, *redis.ClusterClient or *redis.Ring without it. A context
// cancelled before a call starts is honoured at once; one cancelled (rather
// than timed out) while a command waits for its reply is noticed when the
// reply or the client's ReadTimeout arrives. An error that happens once the
// context is done matches both the context's error and the client's.
//
// Every call is also bounded by the Cache's own timeout (WithTimeout,
// default 5 s) when its context has no earlier deadline; Clear bounds each
// SCAN and UNLINK round trip by it.
//
// # Lost replies
//
// go-redis sends a command again when its connection breaks before the
// reply (MaxRetries, 3 by default). For GET, SET and MGET that is harmless,
// but a second SET NX, UNLINK or INCRBY after the first was applied would
// report a wrong result or count twice. The Cache therefore sends Add,
// Delete, DeleteMany and Increment as commands go-redis never repeats once
// they may have been written, and a write whose reply is lost returns an
// error matching cache.ErrUncertain.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/uncertain"
	"github.com/redis/go-redis/v9"
)

// Resolution is the TTL resolution of Redis's PX: shorter positive TTLs
// are rounded up to a millisecond.
const Resolution = time.Millisecond

// scanCount is the COUNT hint of each SCAN in Clear, and so roughly the
// number of keys per UNLINK.
const scanCount = 1000

var (
	// ErrUnprefixedClear reports a Clear on an adapter without a prefix
	// and without WithUnprefixedClear: it would delete every key of the
	// database.
	ErrUnprefixedClear = errors.New("rediscache: Clear without a prefix would delete every key of the database; " +
		"use WithPrefix, or WithUnprefixedClear to allow it")

	// ErrNoContextTimeout reports a client created without
	// ContextTimeoutEnabled, which would let a stalled server block a call
	// past its context's deadline.
	ErrNoContextTimeout = errors.New("rediscache: the client ignores context deadlines; " +
		"create it with ContextTimeoutEnabled: true")
)

// Option configures a Cache.
type Option func(*config)

type config struct {
	prefix          string
	unprefixedClear bool
	timeout         time.Duration
}

// WithPrefix puts every key under prefix (default: none), so that adapters
// and applications sharing a server stay apart and Clear removes only this
// adapter's keys. Keys are the prefix followed by the cache key, byte for
// byte.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithUnprefixedClear lets Clear run on an adapter without a prefix, where
// it deletes every key of the database (of every master of a Cluster),
// including keys this adapter never wrote, with SCAN and UNLINK. It is off
// by default; use it only for a database that holds nothing but this cache.
func WithUnprefixedClear() Option { return func(c *config) { c.unprefixedClear = true } }

// WithTimeout bounds every call by d (default 5 s) when its context has no
// earlier deadline, and each round trip of Clear. It must be positive. In
// cache.Open URLs it is the timeout parameter ("timeout=500ms").
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

type topology int

const (
	single  topology = iota // one server: any set of keys in one command
	cluster                 // keys of one command must share a hash slot
	ring                    // keys of one command must hash to one shard
)

// Cache is a cache.Adapter on a Redis client. It also implements
// cache.Incrementer, cache.Batcher and cache.TTLGetter. It is safe for
// concurrent use.
type Cache struct {
	client          redis.UniversalClient
	topo            topology
	prefix          string
	pattern         string // SCAN MATCH pattern of Clear
	unprefixedClear bool
	timeout         time.Duration
	ownsClient      bool // opened by cache.Open: Close closes the client
	closed          atomic.Bool
}

var _ interface {
	cache.Adapter
	cache.Incrementer
	cache.Batcher
	cache.TTLGetter
} = (*Cache)(nil)

// New returns a Cache on client, which can be a *redis.Client (also from
// redis.NewFailoverClient for Sentinel), a *redis.ClusterClient or a
// *redis.Ring; any other redis.UniversalClient is used as a single server.
// The client must have ContextTimeoutEnabled set (see the package
// documentation); New returns ErrNoContextTimeout otherwise.
//
// The caller keeps ownership of client: Close does not close it, so one
// client can serve several caches and the rest of the application.
func New(client redis.UniversalClient, opts ...Option) (*Cache, error) {
	if client == nil {
		return nil, errors.New("rediscache: nil client")
	}
	cfg := config{timeout: calltimeout.Default}
	for _, o := range opts {
		o(&cfg)
	}
	if err := calltimeout.Check("rediscache", cfg.timeout); err != nil {
		return nil, err
	}
	topo := single
	contextTimeouts := true
	switch cl := client.(type) {
	case *redis.Client:
		contextTimeouts = cl.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		topo, contextTimeouts = cluster, cl.Options().ContextTimeoutEnabled
	case *redis.Ring:
		topo, contextTimeouts = ring, cl.Options().ContextTimeoutEnabled
	}
	if !contextTimeouts {
		return nil, ErrNoContextTimeout
	}
	return &Cache{
		client:          client,
		topo:            topo,
		prefix:          cfg.prefix,
		pattern:         escapeGlob(cfg.prefix) + "*",
		unprefixedClear: cfg.unprefixedClear,
		timeout:         cfg.timeout,
	}, nil
}

// escapeGlob makes s match itself in a Redis glob pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ready returns ErrClosed after Close, or the context's error.
func (c *Cache) ready(ctx context.Context) error {
	if c.closed.Load() {
		return cache.ErrClosed
	}
	return ctx.Err()
}

// begin starts a call of one round trip: it returns what ready returns,
// and otherwise the context bounded by the Cache's timeout, whose cancel
// the caller defers.
func (c *Cache) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	return calltimeout.Begin(ctx, c.timeout, c.ready(ctx))
}

// fail wraps an error of the client. When the context is done, the error is
// most likely its consequence (a read cut short by the deadline surfaces
// as an i/o timeout), so it matches the context's error too.
func fail(ctx context.Context, op string, err error) error {
	if cerr := contextDone(ctx); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("rediscache: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("rediscache: %s: %w", op, err)
}

// failWrite wraps an error of a write. Unless the server refused the
// command or it certainly never left (no connection could be had), the
// write may have been applied: the error then matches cache.ErrUncertain.
// sentOnce says that go-redis did not retry the command, so that the last
// attempt's error tells about the only one.
func failWrite(ctx context.Context, op string, err error, sentOnce bool) error {
	var rerr redis.Error
	switch {
	case errors.As(err, &rerr):
	case sentOnce && (errors.Is(err, redis.ErrPoolTimeout) || uncertain.Unsent(err)):
	default:
		err = uncertain.Wrap(err)
	}
	return fail(ctx, op, err)
}

// once is a command go-redis must not send again once it may have been
// written, because doing it twice is not doing it once (SET NX, UNLINK,
// INCRBY). Embedding the interface keeps every method of the command,
// including the unexported ones go-redis calls.
type once struct{ redis.Cmder }

func (once) NoRetry() bool { return true }

// contextDone is ctx.Err(), except that a deadline already past counts even
// if the context's timer has not fired yet: the socket deadline go-redis
// derives from it can expire a moment earlier.
func contextDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *Cache) key(k string) string { return c.prefix + k }

// keys returns the prefixed keys of a batch. They are cut from one string,
// one allocation instead of one per key; keys without a prefix are used as
// they are (nothing changes them).
func (c *Cache) keys(ks []string) []string {
	if c.prefix == "" {
		return ks
	}
	var b strings.Builder
	b.Grow(len(ks)*len(c.prefix) + sumLen(ks))
	for _, k := range ks {
		b.WriteString(c.prefix)
		b.WriteString(k)
	}
	all, full := b.String(), make([]string, len(ks))
	for i, k := range ks {
		n := len(c.prefix) + len(k)
		full[i], all = all[:n], all[n:]
	}
	return full
}

func sumLen(ks []string) int {
	n := 0
	for _, k := range ks {
		n += len(k)
	}
	return n
}

// copyBytes copies a reply. go-redis's StringCmd.Bytes would lend the
// string's own memory, which a caller must be free to modify; an empty value
// stays a non-nil empty slice.
func copyBytes(s string) []byte { return append(make([]byte, 0, len(s)), s...) }

// Get returns a copy of the value stored under key.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	v, err := c.client.Get(ctx, c.key(key)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, cache.ErrNotFound
	case err != nil:
		return nil, fail(ctx, "get", err)
	}
	return copyBytes(v), nil
}

// GetWithTTL returns the value under key and the time it has left to live
// (0 for none), from GET and PTTL sent together in one round trip; it makes
// the Cache a cache.TTLGetter, so a Chain fills faster layers with the TTL
// that is left.
func (c *Cache) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return nil, 0, err
	}
	k := c.key(key)
	var get *redis.StringCmd
	var pttl *redis.DurationCmd
	_, err = c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		get, pttl = p.Get(ctx, k), p.PTTL(ctx, k)
		return nil
	})
	v, gerr := get.Result()
	switch {
	case errors.Is(gerr, redis.Nil):
		return nil, 0, cache.ErrNotFound
	case err != nil:
		return nil, 0, fail(ctx, "get", err)
	}
	ttl := pttl.Val()
	switch {
	case ttl == -1: // no expiry
		ttl = 0
	case ttl <= 0: // expired between GET and PTTL
		return nil, 0, cache.ErrNotFound
	}
	return copyBytes(v), ttl, nil
}

// Set stores value under key with SET PX; a ttl of 0 never expires.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	if err := c.client.Set(ctx, c.key(key), value, cache.RoundTTL(ttl, Resolution)).Err(); err != nil {
		return failWrite(ctx, "set", err, false)
	}
	return nil
}

// Add stores value only when key is absent, with SET NX PX.
func (c *Cache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := cache.CheckTTL(ttl); err != nil {
		return false, err
	}
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return false, err
	}
	args := []any{"set", c.key(key), value, "nx"}
	if ttl > 0 {
		args = append(args, "px", cache.RoundTTL(ttl, Resolution).Milliseconds())
	}
	cmd := redis.NewBoolCmd(ctx, args...)
	_ = c.client.Process(ctx, once{cmd})
	added, err := cmd.Result()
	if err != nil {
		return false, failWrite(ctx, "add", err, true)
	}
	return added, nil
}

// Delete removes key with UNLINK, which frees a large value in the
// background.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return false, err
	}
	n, err := unlink(ctx, c.client, [][]string{{c.key(key)}})
	if err != nil {
		return false, failWrite(ctx, "delete", err, true)
	}
	return n > 0, nil
}

// Has reports whether key exists, with EXISTS.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return false, err
	}
	n, err := c.client.Exists(ctx, c.key(key)).Result()
	if err != nil {
		return false, fail(ctx, "has", err)
	}
	return n > 0, nil
}

// Increment adds delta to the counter under key with INCRBY, which keeps the
// entry's TTL and creates a missing counter without one.
//
// INCRBY refuses decimal forms the contract accepts but Redis does not
// parse, such as "007" or "-0". For those, and only after INCRBY refused,
// Increment reads the value and writes the sum in an optimistic transaction
// (WATCH, then SET KEEPTTL), which rewrites the counter in canonical form.
func (c *Cache) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return 0, err
	}
	k := c.key(key)
	cmd := redis.NewIntCmd(ctx, "incrby", k, delta)
	_ = c.client.Process(ctx, once{cmd})
	n, err := cmd.Result()
	if err == nil {
		return n, nil
	}
	var rerr redis.Error
	switch {
	case !errors.As(err, &rerr):
	case strings.Contains(err.Error(), "overflow"):
		return 0, fmt.Errorf("rediscache: increment: %w: %w", cache.ErrOverflow, err)
	case strings.Contains(err.Error(), "not an integer"):
		return c.incrementSlow(ctx, k, delta)
	}
	return 0, failWrite(ctx, "increment", err, true)
}

func (c *Cache) incrementSlow(ctx context.Context, k string, delta int64) (int64, error) {
	var sum int64
	txn := func(tx *redis.Tx) error {
		v, err := tx.Get(ctx, k).Bytes()
		n := int64(0)
		switch {
		case errors.Is(err, redis.Nil): // deleted meanwhile: a new counter
		case err != nil:
			return err
		default:
			if n, err = cache.ParseInt(v); err != nil {
				return err
			}
		}
		if sum, err = cache.AddInt(n, delta); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			// Sent again on a new connection, the SET would run without
			// the WATCH and could overwrite a concurrent increment.
			return p.Process(ctx, once{redis.NewStatusCmd(ctx, "set", k, cache.FormatInt(sum), "keepttl")})
		})
		return err
	}
	for {
		err := c.client.Watch(ctx, txn, k)
		switch {
		case err == nil:
			return sum, nil
		case errors.Is(err, cache.ErrNotInteger), errors.Is(err, cache.ErrOverflow):
			return 0, fmt.Errorf("rediscache: increment: %w", err)
		case !errors.Is(err, redis.TxFailedErr):
			return 0, failWrite(ctx, "increment", err, true)
		}
		// Another client changed the key between WATCH and EXEC: retry.
		if err := contextDone(ctx); err != nil {
			return 0, fail(ctx, "increment", err)
		}
	}
}

// GetMany returns the hits among keys: one MGET on a single server, one
// MGET per hash slot (Cluster) or shard (Ring) in one pipeline otherwise.
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	hits := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return hits, nil
	}
	collect := func(keys []string, vals []any) {
		for i, v := range vals {
			if s, ok := v.(string); ok {
				hits[keys[i][len(c.prefix):]] = copyBytes(s)
			}
		}
	}
	groups := c.group(c.keys(keys))
	if len(groups) == 1 {
		vals, err := c.client.MGet(ctx, groups[0]...).Result()
		if err != nil {
			return nil, fail(ctx, "get many", err)
		}
		collect(groups[0], vals)
		return hits, nil
	}
	cmds := make([]*redis.SliceCmd, len(groups))
	if _, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, g := range groups {
			cmds[i] = p.MGet(ctx, g...)
		}
		return nil
	}); err != nil {
		return nil, fail(ctx, "get many", err)
	}
	for i, g := range groups {
		collect(g, cmds[i].Val())
	}
	return hits, nil
}

// SetMany stores every item with the same ttl, one SET PX per item in one
// pipeline. On an error some items may have been stored and others not.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	ttl = cache.RoundTTL(ttl, Resolution)
	if _, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, v := range items {
			p.Set(ctx, c.key(k), v, ttl)
		}
		return nil
	}); err != nil {
		return failWrite(ctx, "set many", err, false)
	}
	return nil
}

// DeleteMany removes keys with UNLINK, grouped like GetMany's MGET.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int, error) {
	ctx, cancel, err := c.begin(ctx)
	defer cancel()
	if err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	n, err := unlink(ctx, c.client, c.group(c.keys(keys)))
	if err != nil {
		return 0, failWrite(ctx, "delete many", err, true)
	}
	return n, nil
}

// server is what unlink and clearNode need of a client: a whole one, or
// one node of a Cluster or Ring.
type server interface {
	redis.Cmdable
	Process(ctx context.Context, cmd redis.Cmder) error
}

// unlink deletes each group of keys with one UNLINK, pipelined when there
// are several, and returns how many keys existed. No UNLINK is sent twice:
// the second would count nothing.
func unlink(ctx context.Context, client server, groups [][]string) (int, error) {
	cmds := make([]*redis.IntCmd, len(groups))
	for i, g := range groups {
		args := make([]any, 0, len(g)+1)
		args = append(args, "unlink")
		for _, k := range g {
			args = append(args, k)
		}
		cmds[i] = redis.NewIntCmd(ctx, args...)
	}
	if len(groups) == 1 {
		_ = client.Process(ctx, once{cmds[0]})
		n, err := cmds[0].Result()
		return int(n), err
	}
	if _, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, cmd := range cmds {
			_ = p.Process(ctx, once{cmd})
		}
		return nil
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, cmd := range cmds {
		n += int(cmd.Val())
	}
	return n, nil
}

// Clear deletes every key under the prefix with SCAN and UNLINK, on every
// master of a Cluster and every shard of a Ring. Without a prefix it returns
// ErrUnprefixedClear unless WithUnprefixedClear was given.
func (c *Cache) Clear(ctx context.Context) error {
	if err := c.ready(ctx); err != nil {
		return err
	}
	if c.prefix == "" && !c.unprefixedClear {
		return ErrUnprefixedClear
	}
	var err error
	switch cl := c.client.(type) {
	case *redis.ClusterClient:
		err = cl.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return c.clearNode(ctx, node, cluster)
		})
	case *redis.Ring:
		err = cl.ForEachShard(ctx, func(ctx context.Context, shard *redis.Client) error {
			return c.clearNode(ctx, shard, single)
		})
	default:
		err = c.clearNode(ctx, c.client, single)
	}
	if err != nil {
		return failWrite(ctx, "clear", err, false)
	}
	return nil
}

// clearNode deletes the keys under the prefix on one server. On a Cluster
// node, the keys of one UNLINK must still share a hash slot.
func (c *Cache) clearNode(ctx context.Context, node server, topo topology) error {
	for cursor := uint64(0); ; {
		var next uint64
		err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) error {
			keys, n, err := node.Scan(ctx, cursor, c.pattern, scanCount).Result()
			if err == nil && len(keys) > 0 {
				_, err = unlink(ctx, node, groupKeys(topo, keys))
			}
			next = n
			return err
		})
		if err != nil || next == 0 {
			return err
		}
		cursor = next
	}
}

// Close marks the Cache closed: every later call returns cache.ErrClosed.
// It does not close a client given to New, which belongs to the caller; it
// closes the client that cache.Open created.
func (c *Cache) Close() error {
	if c.closed.Swap(true) || !c.ownsClient {
		return nil
	}
	return c.client.Close()
}

func (c *Cache) group(keys []string) [][]string { return groupKeys(c.topo, keys) }
