// Package memcachedcache is a cache.Adapter on Memcached, through
// github.com/bradfitz/gomemcache. It keeps the contract of package cache on
// a server that limits keys, counts time in whole seconds, has unsigned
// counters and can only flush everything at once.
//
// # Keys
//
// Any string is a key. A key that memcached accepts (at most 250 bytes in
// all, no spaces or control characters) is stored as is after the prefix
// and the generation ("prefix|generation|key"); any other key, and any key
// starting with '#', is stored as '#' followed by the base64url SHA-256 of
// the key, so two keys never share an item. The same applies to the prefix.
//
// # Clear and the generation
//
// memcached cannot delete by prefix, and flush_all would wipe every
// application on the servers. Instead every key carries the generation of
// its prefix, a number stored in memcached under "prefix|gen": Clear
// advances it with incr, after which the adapter reads and writes keys no
// entry has, and the old entries are left to expire or be evicted. Other
// prefixes and keys written by other applications are never touched. A new
// generation starts at a random 63-bit number, so if the generation item is
// evicted, or its server restarts, the next generation cannot bring old
// entries back: losing it clears the prefix.
//
// The adapter that calls Clear sees it at once. Other adapters (other
// processes) with the same prefix keep the generation they read for the
// refresh interval, DefaultGenerationRefresh unless WithGenerationRefresh
// says otherwise, so they see a Clear at most that long (plus a round trip)
// after it: until then they still read the old entries, and what they write
// is cleared too. Reading the generation costs one round trip per interval
// per adapter. WithGenerationRefresh(0) reads it before every operation
// instead: every adapter sees a Clear at once, and every operation costs
// two round trips instead of one. If the generation cannot be read when the
// interval ends, the adapter goes on with the one it had, so that the
// servers still reachable keep serving, and tries again an interval later.
//
// Adapters without a prefix share the empty prefix: Clear on one of them
// clears all of them, and none touches a prefixed adapter.
// WithGenerationName gives an adapter a generation of its own, which
// separates it from others with the same prefix (by their independent
// random generations).
//
// # TTL
//
// TTLs are rounded up to whole seconds (Resolution), and one more second is
// sent, because memcached's clock ticks once a second and an item whose
// exptime is n seconds expires after n-1 to n seconds: an entry with TTL d
// lives longer than d rounded up to a second, and at most one second longer
// than that. A TTL over 30 days is sent as a Unix time, as memcached
// requires, so the client's and the server's clocks must agree; expiries
// beyond January 2038 (the int32 limit of the protocol) become that date.
//
// # Counters
//
// Counters are ASCII decimal, so Get returns "15" after Set "10" and
// Increment 5. Increment uses memcached's incr, one round trip that keeps
// the entry's TTL, when delta is positive and the stored value is a
// non-negative counter below 2^62 in canonical form; everything else
// (negative deltas or counters, values that are not integers, results near
// the int64 limits) goes through a gets and compare-and-swap loop, which
// keeps the TTL too but may move the expiry up to two seconds later. The
// adapter stores with a one-byte marker (and a flag bit) the values that
// incr would misread as numbers, so that incr refuses them; an incr that
// fails that way costs a new connection, since gomemcache discards a
// connection after any error from the server.
//
// # Values
//
// Values larger than the limit given to WithMaxValueSize, by default
// DefaultMaxValueSize (what memcached's default -I 1m accepts with any key),
// give cache.ErrTooLarge before anything is sent, so the previous value
// stays: memcached itself deletes the old item when it refuses a set as too
// large. A refusal from a server started with a smaller -I (or out of
// memory) also gives cache.ErrTooLarge, with the server's reply wrapped.
//
// # Servers and batches
//
// NewRing is a server selector with consistent hashing: adding a server to
// n moves about 1/(n+1) of the keys, where gomemcache's ServerList moves
// about n/(n+1). GetMany is one GetMulti, one round trip per server in
// parallel. gomemcache has no pipelining, so SetMany and DeleteMany send one
// command after another, a round trip each.
//
// # Contexts and timeouts
//
// gomemcache takes no context, and bounds each command only by the client's
// Timeout (to connect, to write, and to read each reply line). The adapter
// bounds every call by its own timeout as well (WithTimeout, default 5 s)
// when the context has no earlier deadline, so that a server that stops
// answering never blocks a caller whose context has none. It checks the
// context when a call starts, before each command that changes data, and
// between the steps of a call that sends several commands (batches,
// counters, reading the generation). When the context's deadline or the
// adapter's timeout may come before those Timeouts end the call (less than
// ten Timeouts away, or any batch, which sends a command per key), the call
// runs in a goroutine and the method returns context.DeadlineExceeded at the
// deadline; the command in flight then runs on until it ends, may or may not
// take effect, and Close waits for it. Otherwise the call runs on the
// caller's goroutine, which the client's Timeouts free in time, and a
// context cancelled while a command is in flight is seen when that command
// ends: the error then matches both context.Canceled and the command's. The
// goroutine costs a hand-off between threads, which on the project's 2-vCPU
// test machine adds 40-70% to a loopback round trip, so it is spent only
// where a deadline needs it: with the default Timeout
// (memcache.DefaultTimeout, 500 ms) and timeout, or any client Timeout of a
// tenth of the timeout or less, single-key calls stay on the caller's
// goroutine.
//
// # Lost replies
//
// A command that changes data and whose reply never comes (the connection
// broke, or the deadline passed while it was in flight) may or may not
// have been applied. The adapter then returns an error matching
// cache.ErrUncertain from Set, Add, Delete, Increment, SetMany, DeleteMany
// and Clear, also when a call left at its deadline had such a command in
// flight, or had made one of its changes (SetMany and DeleteMany send a
// command per key). An error of a write that does not match it means that
// nothing was changed. memcached's own answers (NOT_STORED, NOT_FOUND,
// EXISTS, an error reply) and failures to connect are certain.
//
// gomemcache keeps idle connections (the client's MaxIdleConns per server)
// and finds out that the server closed one (it restarted, or dropped idle
// connections) only when a command on it fails, which looks just like a
// reply lost after the server ran the command. Commands that may run twice
// with the same outcome (get, set, and the incr of Clear, since advancing
// the generation twice hides just the same entries) are then sent again,
// up to once per idle connection, so a restart does not surface as errors.
// Add, Delete, Increment and DeleteMany are never sent twice, because a
// second add, incr, delete or compare-and-swap after the first was applied
// would report a wrong result or count twice: after a restart, they may
// fail with cache.ErrUncertain until the dead connections are used up.
package memcachedcache

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/uncertain"
)

// Resolution is the TTL resolution: positive TTLs are rounded up to whole
// seconds (and one second more is sent; see the package documentation).
const Resolution = time.Second

// DefaultMaxValueSize is the largest value accepted unless WithMaxValueSize
// says otherwise: what a memcached started with the default item size limit
// (-I 1m) stores under a 250-byte key, with this adapter's flags and marker
// byte, rounded down. The server's own overhead is 313 bytes at most.
const DefaultMaxValueSize = 1<<20 - 512

// DefaultGenerationRefresh is how long an adapter uses the generation it
// read before reading it again, unless WithGenerationRefresh says
// otherwise; it bounds how late a Clear by another adapter is seen.
const DefaultGenerationRefresh = time.Second

// Option configures a Cache.
type Option func(*config)

type config struct {
	prefix       string
	genName      string
	refresh      time.Duration
	maxValueSize int
	timeout      time.Duration
}

// WithPrefix namespaces every key of the adapter (default: the empty
// prefix): adapters with different prefixes never see each other's entries,
// and Clear on one leaves the others alone. Any string works; one that
// memcached does not accept as part of a key, contains '|', starts with '#'
// or is longer than 128 bytes is stored encoded.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithGenerationName names the adapter's generation within its prefix
// (default "gen"); it is stored under "prefix|name". Adapters with the same
// prefix and generation name share entries and Clears. One with a
// generation of its own sees neither the entries nor the Clears of the
// others, though its keys look alike: they differ in the generation, a
// random 63-bit number. Any string works; it is encoded like a prefix.
func WithGenerationName(name string) Option { return func(c *config) { c.genName = name } }

// WithGenerationRefresh sets how long the adapter uses the generation it
// read before reading it again (default DefaultGenerationRefresh): the
// longest a Clear by another adapter goes unseen. 0 reads it before every
// operation, at the cost of a second round trip each.
func WithGenerationRefresh(d time.Duration) Option { return func(c *config) { c.refresh = d } }

// WithMaxValueSize sets the largest value accepted, in bytes (default
// DefaultMaxValueSize); larger ones give cache.ErrTooLarge without reaching
// the server. Set it to what the servers' -I accepts, less 512 bytes.
func WithMaxValueSize(n int) Option { return func(c *config) { c.maxValueSize = n } }

// WithTimeout bounds every call by d (default 5 s) when its context has no
// earlier deadline; see the package documentation. It must be positive.
// In cache.Open URLs it is the timeout parameter ("timeout=500ms").
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Cache is a cache.Adapter on a memcache.Client. It also implements
// cache.Incrementer and cache.Batcher. It is safe for concurrent use.
type Cache struct {
	client       *memcache.Client
	prefix       string // the prefix part of every key
	genKey       string
	refresh      time.Duration
	maxValueSize int
	maxRawKey    int
	maxIdle      int           // the client's idle connections per server
	slowest      time.Duration // how long a call lasts at most without a context
	timeout      time.Duration // the bound of a call whose context has no earlier deadline
	ownsClient   bool          // opened by cache.Open: Close closes the client

	ns atomic.Pointer[namespace]
	// sem is held by whoever reads or advances the generation, so that an
	// older read never replaces a newer Clear.
	sem chan struct{}

	// mu orders Close after the start of every call; calls counts calls
	// in flight, including those abandoned by their context.
	mu     sync.RWMutex
	closed bool
	calls  sync.WaitGroup
}

var _ interface {
	cache.Adapter
	cache.Incrementer
	cache.Batcher
} = (*Cache)(nil)

// namespace is a generation and what follows from it.
type namespace struct {
	gen       uint64
	keyPrefix string
	until     time.Time // when to read the generation again
}

// New returns a Cache that stores through client. Close does not close the
// client, which stays the caller's. The client's Timeout bounds each
// command, and the Cache's timeout each call; see the package
// documentation.
func New(client *memcache.Client, opts ...Option) (*Cache, error) {
	if client == nil {
		return nil, errors.New("memcachedcache: nil client")
	}
	cfg := config{genName: "gen", refresh: DefaultGenerationRefresh, maxValueSize: DefaultMaxValueSize, timeout: calltimeout.Default}
	for _, o := range opts {
		o(&cfg)
	}
	if err := calltimeout.Check("memcachedcache", cfg.timeout); err != nil {
		return nil, err
	}
	if cfg.refresh < 0 {
		return nil, fmt.Errorf("memcachedcache: negative generation refresh %v", cfg.refresh)
	}
	if cfg.maxValueSize <= 0 {
		return nil, fmt.Errorf("memcachedcache: max value size must be positive, got %d", cfg.maxValueSize)
	}
	prefix := part(cfg.prefix, maxPrefixLen, false)
	genKey := prefix + string(sep) + part(cfg.genName, maxKeyLen-len(prefix)-1, false)
	return &Cache{
		client:       client,
		prefix:       prefix,
		genKey:       genKey,
		refresh:      cfg.refresh,
		maxValueSize: cfg.maxValueSize,
		maxRawKey:    maxRawKey(len(prefix)),
		maxIdle:      cmp.Or(max(client.MaxIdleConns, 0), memcache.DefaultMaxIdleConns),
		slowest:      slowestCalls * cmp.Or(client.Timeout, memcache.DefaultTimeout),
		timeout:      cfg.timeout,
		sem:          make(chan struct{}, 1),
	}, nil
}

// begin starts a call: it fails when ctx has ended or the Cache is closed,
// and otherwise counts the call until its calls.Done.
func (c *Cache) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return cache.ErrClosed
	}
	c.calls.Add(1)
	return nil
}

// slowestCalls is how many of the client's Timeouts a call without a
// batch is assumed to last at most when the server stalls or crawls: each
// command gomemcache sends gets one Timeout to connect, one to write and
// one per reply line (two for a get), and a call sends one or two commands
// (three or four when it reads the generation and has to create it).
const slowestCalls = 10

// watched reports whether a call must run in a goroutine that the caller
// can leave at its deadline (ctx's, or the Cache's timeout from now): when
// it may come before gomemcache's own Timeout ends the call. A batch sends
// a command per key, so every deadline counts.
func (c *Cache) watched(ctx context.Context, batch bool) bool {
	limit := c.timeout
	if deadline, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(deadline))
	}
	return batch || limit < c.slowest
}

// run calls fn, which talks to memcached, with ctx bounded by the Cache's
// timeout, and returns what it returns. When watch (the call's watched),
// fn runs in a goroutine and run returns the context's error at its
// deadline; fn then goes on alone until its command in flight ends, and
// Close waits for it. Otherwise fn runs on the caller's goroutine, and an
// error it returns after the context ended matches both the context's
// error and its own. Either way, the error of a call that may have changed
// data matches cache.ErrUncertain too (see call).
func run[T any](c *Cache, ctx context.Context, watch bool, fn func(ctx context.Context, cl *call) (T, error)) (T, error) {
	var zero T
	if err := c.begin(ctx); err != nil {
		return zero, err
	}
	ctx, cancel := calltimeout.Bound(ctx, c.timeout)
	defer cancel()
	cl := &call{ctx: ctx}
	if !watch {
		defer c.calls.Done()
		v, err := fn(ctx, cl)
		if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return v, cl.fail(err)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer c.calls.Done()
		v, err := fn(ctx, cl)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, cl.fail(r.err)
	case <-ctx.Done():
		return zero, cl.fail(ctx.Err())
	}
}

// A call is one method call while it runs. It records whether the call may
// have changed data, which makes its error uncertain: a command that
// changes data may have been applied although its reply never came, and
// is then never sent again.
type call struct {
	ctx context.Context
	// changed is set while a command that changes data is in flight, and
	// stays set once one may have been applied. A caller that leaves a
	// watched call reads it after ctx has ended.
	changed atomic.Bool
}

// change sends a command that changes data, unless ctx has ended. It marks
// the call changed before it looks at ctx, so that a caller who left at
// the deadline and found the call unchanged can count on nothing being
// sent after that; it clears the mark again when the command certainly
// changed nothing.
func (cl *call) change(send func() error) error {
	before := cl.changed.Swap(true)
	if err := cl.ctx.Err(); err != nil {
		cl.changed.Store(before)
		return err
	}
	err := send()
	if err != nil && !before && unapplied(err) {
		cl.changed.Store(false)
	}
	return err
}

// fail returns err, which ends the call, made to match cache.ErrUncertain
// when the call may have changed data.
func (cl *call) fail(err error) error {
	if cl.changed.Load() {
		return uncertain.Wrap(err)
	}
	return err
}

// unapplied reports whether err, the error of a command that changes data,
// says that the command changed nothing: memcached answered so (NOT_STORED,
// EXISTS, NOT_FOUND, or an error reply, which gomemcache reports as a
// client error or an unexpected response line), or the command never left
// the client (the key or the servers ruled it out, or connecting failed).
// Any other failure (the connection closed, a timeout while writing or
// reading) may have come after memcached applied the command.
func unapplied(err error) bool {
	var connect *memcache.ConnectTimeoutError
	switch {
	case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCASConflict),
		errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrMalformedKey),
		errors.Is(err, memcache.ErrNoServers), errors.As(err, &connect), uncertain.Unsent(err):
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "memcache: client error: ") ||
		strings.Contains(msg, `"SERVER_ERROR `) || strings.Contains(msg, `"CLIENT_ERROR `)
}

// own returns value, or a copy of it for a watched call, which may return
// while gomemcache still sends the value: the caller may change the slice
// once the method returns.
func own(watch bool, value []byte) []byte {
	if watch {
		return bytes.Clone(value)
	}
	return value
}

func (c *Cache) newNamespace(gen uint64) *namespace {
	return &namespace{gen: gen, keyPrefix: keyPrefix(c.prefix, gen), until: time.Now().Add(c.refresh)}
}

// key returns the server key of a cache key in namespace n.
func (c *Cache) key(n *namespace, key string) string {
	return n.keyPrefix + part(key, c.maxRawKey, true)
}

// namespace returns the generation to use now, reading it from memcached
// when the one the adapter knows is older than the refresh interval.
func (c *Cache) namespace(ctx context.Context) (*namespace, error) {
	if c.refresh == 0 {
		gen, err := c.readGen(ctx)
		if err != nil {
			return nil, err
		}
		return c.newNamespace(gen), ctx.Err()
	}
	cur := c.ns.Load()
	if cur != nil && time.Now().Before(cur.until) {
		return cur, nil
	}
	if cur != nil {
		select {
		case c.sem <- struct{}{}:
		default:
			// Another call is reading the generation: go on with
			// the one the adapter has, a round trip older at most.
			return cur, nil
		}
	} else {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer func() { <-c.sem }()
	if n := c.ns.Load(); n != cur {
		return n, nil // read or advanced while this call waited
	}
	gen, err := c.readGen(ctx)
	switch {
	case err == nil:
		cur = c.newNamespace(gen)
	case cur == nil:
		return nil, err
	default:
		// Keep serving from the servers that answer, with the last
		// generation known, and try again an interval later.
		cur = c.newNamespace(cur.gen)
	}
	c.ns.Store(cur)
	// A call abandoned while it read the generation sends nothing more.
	return cur, ctx.Err()
}

// readGen reads the generation, creating it when there is none.
func (c *Cache) readGen(ctx context.Context) (uint64, error) {
	for {
		var it *memcache.Item
		err := c.retry(func() (err error) { it, err = c.client.Get(c.genKey); return err })
		if err == nil {
			gen, err := strconv.ParseUint(string(it.Value), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("memcachedcache: generation item %q holds %q, not a number", c.genKey, it.Value)
			}
			return gen, nil
		}
		if !errors.Is(err, memcache.ErrCacheMiss) {
			return 0, fmt.Errorf("memcachedcache: read the generation %q: %w", c.genKey, err)
		}
		if gen, ok, err := c.createGen(); ok || err != nil {
			return gen, err
		}
		// Another adapter created it first: read that one.
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// createGen stores a new random generation when there is none, and reports
// whether it did.
func (c *Cache) createGen() (uint64, bool, error) {
	// 63 bits: incr cannot wrap it, and a new series of generations does
	// not meet an old one.
	gen := rand.Uint64() >> 1
	item := &memcache.Item{Key: c.genKey, Value: strconv.AppendUint(nil, gen, 10)}
	// If an add that failed did store, the next one finds it and the
	// caller reads it.
	err := c.retry(func() error { return c.client.Add(item) })
	switch {
	case err == nil:
		return gen, true, nil
	case errors.Is(err, memcache.ErrNotStored):
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("memcachedcache: create the generation %q: %w", c.genKey, err)
}

// retry calls f, which sends one command, and calls it again while it fails
// on a pooled connection that the server closed while it sat idle (the
// server restarted, or dropped idle connections): the write goes out and the
// read finds the connection closed. gomemcache then drops that connection
// and the next call takes the next idle one, or dials, so the pool's size
// plus one calls reach a live connection. Only commands that may run twice
// go through retry, since the same errors also come from a connection lost
// after the server ran the command.
func (c *Cache) retry(f func() error) error {
	err := f()
	for i := 0; i < c.maxIdle && stale(err); i++ {
		err = f()
	}
	return err
}

func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// fail turns an error of gomemcache into the adapter's.
func fail(op, key string, err error) error {
	if errors.Is(err, memcache.ErrCacheMiss) {
		return cache.ErrNotFound
	}
	if msg := err.Error(); strings.Contains(msg, "SERVER_ERROR object too large") ||
		strings.Contains(msg, "SERVER_ERROR out of memory") {
		return fmt.Errorf("memcachedcache: %s %q: %w: %w", op, clip(key), cache.ErrTooLarge, err)
	}
	return fmt.Errorf("memcachedcache: %s %q: %w", op, clip(key), err)
}

// clip keeps error messages short when keys are long.
func clip(key string) string {
	if len(key) > 64 {
		return key[:64] + "..."
	}
	return key
}

func (c *Cache) checkSize(key string, value []byte) error {
	if len(value) > c.maxValueSize {
		return fmt.Errorf("%w: key %q: %d bytes, limit %d", cache.ErrTooLarge, clip(key), len(value), c.maxValueSize)
	}
	return nil
}

// Get returns the value stored under key.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	return run(c, ctx, c.watched(ctx, false), func(ctx context.Context, _ *call) ([]byte, error) {
		n, err := c.namespace(ctx)
		if err != nil {
			return nil, err
		}
		k := c.key(n, key)
		var it *memcache.Item
		err = c.retry(func() (err error) { it, err = c.client.Get(k); return err })
		if err != nil {
			return nil, fail("get", key, err)
		}
		return decode(it)
	})
}

// Has reports whether key has an unexpired entry. memcached has no command
// that answers without the value, so Has costs what Get costs.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	_, err := c.Get(ctx, key)
	if errors.Is(err, cache.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Set stores value under key; a ttl of 0 never expires.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	if err := c.checkSize(key, value); err != nil {
		return err
	}
	watch := c.watched(ctx, false)
	value = own(watch, value)
	_, err := run(c, ctx, watch, func(ctx context.Context, cl *call) (struct{}, error) {
		n, err := c.namespace(ctx)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, c.set(cl, n, key, value, ttl)
	})
	return err
}

// set stores value under key with set, which may be sent again: storing
// the same item twice stores it once.
func (c *Cache) set(cl *call, n *namespace, key string, value []byte, ttl time.Duration) error {
	exptime, exp := expiry(ttl, time.Now())
	data, flags := encode(value, exp)
	item := &memcache.Item{Key: c.key(n, key), Value: data, Flags: flags, Expiration: exptime}
	if err := cl.change(func() error { return c.retry(func() error { return c.client.Set(item) }) }); err != nil {
		return fail("set", key, err)
	}
	return nil
}

// Add stores value only when key has no unexpired entry, with memcached's
// add.
func (c *Cache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := cache.CheckTTL(ttl); err != nil {
		return false, err
	}
	if err := c.checkSize(key, value); err != nil {
		return false, err
	}
	watch := c.watched(ctx, false)
	value = own(watch, value)
	return run(c, ctx, watch, func(ctx context.Context, cl *call) (bool, error) {
		n, err := c.namespace(ctx)
		if err != nil {
			return false, err
		}
		exptime, exp := expiry(ttl, time.Now())
		data, flags := encode(value, exp)
		item := &memcache.Item{Key: c.key(n, key), Value: data, Flags: flags, Expiration: exptime}
		err = cl.change(func() error { return c.client.Add(item) })
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, memcache.ErrNotStored):
			return false, nil
		}
		return false, fail("add", key, err)
	})
}

// Delete removes key and reports whether an unexpired entry existed.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	return run(c, ctx, c.watched(ctx, false), func(ctx context.Context, cl *call) (bool, error) {
		n, err := c.namespace(ctx)
		if err != nil {
			return false, err
		}
		return c.delete(cl, n, key)
	})
}

// delete removes key. The delete is never sent twice: the second would find
// nothing and report that nothing existed.
func (c *Cache) delete(cl *call, n *namespace, key string) (bool, error) {
	k := c.key(n, key)
	err := cl.change(func() error { return c.client.Delete(k) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	}
	return false, fail("delete", key, err)
}

// Clear advances the generation of the adapter's prefix (or generation
// key), which hides every entry written before; see the package
// documentation for when other adapters see it. It deletes nothing.
func (c *Cache) Clear(ctx context.Context) error {
	_, err := run(c, ctx, c.watched(ctx, false), func(ctx context.Context, cl *call) (struct{}, error) {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return struct{}{}, ctx.Err()
		}
		defer func() { <-c.sem }()
		for {
			// Advancing twice clears just the same, so the incr may
			// be sent again.
			var gen uint64
			err := cl.change(func() error {
				return c.retry(func() (err error) { gen, err = c.client.Increment(c.genKey, 1); return err })
			})
			if errors.Is(err, memcache.ErrCacheMiss) {
				// No generation is stored (never used, evicted, or
				// its server restarted): a new random one hides
				// the old entries just as well.
				var ok bool
				err = cl.change(func() (err error) { gen, ok, err = c.createGen(); return err })
				if !ok && err == nil {
					continue // created meanwhile by another adapter: advance it
				}
			}
			if err != nil {
				return struct{}{}, fmt.Errorf("memcachedcache: clear: %w", err)
			}
			if c.refresh > 0 {
				c.ns.Store(c.newNamespace(gen))
			}
			return struct{}{}, nil
		}
	})
	return err
}

// Increment adds delta to the counter under key, atomically; see the
// package documentation for how. No incr, add or compare-and-swap it sends
// is sent twice.
func (c *Cache) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	return run(c, ctx, c.watched(ctx, false), func(ctx context.Context, cl *call) (int64, error) {
		n, err := c.namespace(ctx)
		if err != nil {
			return 0, err
		}
		k := c.key(n, key)
		if delta > 0 && delta < incrMaxDelta {
			var sum uint64
			err := cl.change(func() (err error) { sum, err = c.client.Increment(k, uint64(delta)); return err })
			switch {
			case err == nil:
				if sum > math.MaxInt64 {
					// Unreachable in practice (see rawLimit).
					// The decr restores the value incr changed.
					err := cl.change(func() error { _, err := c.client.Decrement(k, uint64(delta)); return err })
					return 0, errors.Join(fmt.Errorf("memcachedcache: increment %q: %w", clip(key), cache.ErrOverflow), err)
				}
				if sum >= rawLimit {
					c.markLarge(ctx, k)
				}
				return int64(sum), nil
			case errors.Is(err, memcache.ErrCacheMiss):
				created, err := c.create(cl, k, key, delta)
				if err != nil {
					return 0, err
				}
				if created {
					return delta, nil
				}
			case strings.HasPrefix(err.Error(), "memcache: client error: "):
				// Not a raw counter: marked, negative or not an
				// integer. Compare-and-swap sorts it out.
			default:
				return 0, fail("increment", key, err)
			}
		}
		return c.casIncrement(cl, k, key, delta)
	})
}

// casIncrement adds delta to the counter under server key k with gets and
// compare-and-swap, keeping its expiry, and creates it when it is missing.
// It tries again only after memcached answered that the swap or the
// creation did not happen.
func (c *Cache) casIncrement(cl *call, k, key string, delta int64) (int64, error) {
	for {
		if err := cl.ctx.Err(); err != nil {
			return 0, err
		}
		var it *memcache.Item
		err := c.retry(func() (err error) { it, err = c.client.Get(k); return err })
		if errors.Is(err, memcache.ErrCacheMiss) {
			created, err := c.create(cl, k, key, delta)
			if err != nil {
				return 0, err
			}
			if created {
				return delta, nil
			}
			continue // created meanwhile
		}
		if err != nil {
			return 0, fail("increment", key, err)
		}
		v, err := decode(it)
		if err != nil {
			return 0, fmt.Errorf("memcachedcache: increment %q: %w", clip(key), err)
		}
		old, err := cache.ParseInt(v)
		if err != nil {
			return 0, fmt.Errorf("memcachedcache: increment %q: %w", clip(key), err)
		}
		sum, err := cache.AddInt(old, delta)
		if err != nil {
			return 0, fmt.Errorf("memcachedcache: increment %q: %w", clip(key), err)
		}
		if sum == old {
			return sum, nil
		}
		it.Value, it.Flags = encode(cache.FormatInt(sum), it.Flags&flagExpiry)
		it.Expiration = reexpiry(it.Flags, time.Now())
		err = cl.change(func() error { return c.client.CompareAndSwap(it) })
		switch {
		case err == nil:
			return sum, nil
		case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			continue // changed, expired or evicted meanwhile
		}
		return 0, fail("increment", key, err)
	}
}

// create stores a new counter with value delta under server key k, which
// never expires, when there is none, and reports whether it did.
func (c *Cache) create(cl *call, k, key string, delta int64) (bool, error) {
	data, flags := encode(cache.FormatInt(delta), 0)
	err := cl.change(func() error { return c.client.Add(&memcache.Item{Key: k, Value: data, Flags: flags}) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrNotStored):
		return false, nil
	}
	return false, fail("increment", key, err)
}

// markLarge marks the raw counter under server key k once incr took it to
// rawLimit or beyond, so that incr refuses it from then on. It gives up
// after a few conflicting writes, or on an error: the increment itself is
// done, and the next incr that finds the counter that large tries again.
func (c *Cache) markLarge(ctx context.Context, k string) {
	for range 3 {
		if ctx.Err() != nil {
			return
		}
		it, err := c.client.Get(k)
		if err != nil || it.Flags&flagMarked != 0 || !needsMark(it.Value) {
			return // gone, marked, or rewritten meanwhile
		}
		it.Value, it.Flags = encode(it.Value, it.Flags&flagExpiry)
		it.Expiration = reexpiry(it.Flags, time.Now())
		if err := c.client.CompareAndSwap(it); !errors.Is(err, memcache.ErrCASConflict) {
			return
		}
	}
}

// GetMany returns the hits among keys, with one GetMulti: one request per
// server, sent in parallel.
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	return run(c, ctx, c.watched(ctx, true), func(ctx context.Context, _ *call) (map[string][]byte, error) {
		hits := make(map[string][]byte, len(keys))
		if len(keys) == 0 {
			return hits, nil
		}
		n, err := c.namespace(ctx)
		if err != nil {
			return nil, err
		}
		// A key stored as is comes back after the namespace's key
		// prefix; only encoded keys need a map back.
		serverKeys := make([]string, len(keys))
		var encoded map[string]string
		for i, key := range keys {
			p := part(key, c.maxRawKey, true)
			serverKeys[i] = n.keyPrefix + p
			if p != key {
				if encoded == nil {
					encoded = make(map[string]string)
				}
				encoded[serverKeys[i]] = key
			}
		}
		var items map[string]*memcache.Item
		err = c.retry(func() (err error) { items, err = c.client.GetMulti(serverKeys); return err })
		if err != nil {
			return nil, fmt.Errorf("memcachedcache: get %d keys: %w", len(keys), err)
		}
		for k, it := range items {
			key, ok := encoded[k]
			if !ok {
				key = k[len(n.keyPrefix):]
			}
			v, err := decode(it)
			if err != nil {
				return nil, fmt.Errorf("memcachedcache: get %q: %w", clip(key), err)
			}
			hits[key] = v
		}
		return hits, nil
	})
}

// SetMany stores every item with the same ttl, one set after another
// (gomemcache has no pipelining). Every value is checked against the size
// limit before anything is sent. An error stops the loop: items not yet
// sent stay as they were.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	for k, v := range items {
		if err := c.checkSize(k, v); err != nil {
			return err
		}
	}
	watch := c.watched(ctx, true)
	if watch {
		owned := make(map[string][]byte, len(items))
		for k, v := range items {
			owned[k] = bytes.Clone(v)
		}
		items = owned
	}
	_, err := run(c, ctx, watch, func(ctx context.Context, cl *call) (struct{}, error) {
		n, err := c.namespace(ctx)
		if err != nil {
			return struct{}{}, err
		}
		for k, v := range items {
			if err := c.set(cl, n, k, v, ttl); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	return err
}

// DeleteMany removes keys, one delete after another (gomemcache has no
// pipelining), and counts the unexpired entries that existed.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int, error) {
	return run(c, ctx, c.watched(ctx, true), func(ctx context.Context, cl *call) (int, error) {
		if len(keys) == 0 {
			return 0, nil
		}
		n, err := c.namespace(ctx)
		if err != nil {
			return 0, err
		}
		deleted := 0
		for _, key := range keys {
			existed, err := c.delete(cl, n, key)
			if err != nil {
				return deleted, err
			}
			if existed {
				deleted++
			}
		}
		return deleted, nil
	})
}

// Close makes every later call return cache.ErrClosed and waits for calls
// in flight, including those abandoned by their context, which end within
// the client's Timeout. It does not close a client given to New, which
// stays the caller's; it closes the client that cache.Open created.
func (c *Cache) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	c.mu.Unlock()
	c.calls.Wait()
	if first && c.ownsClient {
		return c.client.Close()
	}
	return nil
}
