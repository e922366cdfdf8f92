// Package gocachebridge connects this module to github.com/eko/gocache in
// both directions: FromStore turns any gocache store into a cache.Adapter,
// so it works with cache.Cache, cache.Chain and the session manager, and
// ToStore turns any cache.Adapter into a gocache store, so that gocache's
// Cache, ChainCache, LoadableCache and MetricCache run on it.
//
// # FromStore and the contract
//
// A gocache store is narrower than cache.Adapter, so the bridge adds what it
// can and declares what it cannot:
//
//   - TTL. gocache stores read store.WithExpiration(0) differently: no
//     expiry (Ristretto, Redis, Memcached), the client's default expiry
//     (go-cache), or they ignore expirations altogether (Bigcache, whose
//     entries all live for its LifeWindow, however long the TTL). The
//     bridge knows these stores by their GetType and sends each the value
//     that means "never expires" for a ttl of 0, rounds positive TTLs up to
//     what the store keeps (whole seconds for Memcached, which would
//     otherwise truncate a sub-second TTL to 0, "no expiry"), and refuses
//     what the store cannot express with an error matching
//     errors.ErrUnsupported. See WithTTLResolution and WithNoExpiry for
//     other stores.
//   - Values. Values go in as []byte and must come back as []byte or string
//     (Redis returns strings); anything else, written to the same store by
//     other code, gives ErrUnexpectedValue rather than a zero value.
//   - Read-your-writes. Every Set asks for store.WithSynchronousSet, so
//     Ristretto applies it before Set returns. Ristretto may still drop a
//     new entry (its admission policy, when the cache is full); the bridge
//     then reads the key back and reports ErrDropped instead of losing the
//     value silently.
//   - Add is atomic when the store implements store.SetIfNotExistsStore.
//     Otherwise it is a read then a write, made atomic among the goroutines
//     that use one bridge Adapter (writers of a key hold a lock stripe) but
//     not across adapters or processes sharing the store: two processes may
//     both Add the same key successfully. Do not use such a store for locks
//     shared between processes (the session manager's optional locking).
//   - Delete reports whether an entry existed by reading it first, so the
//     report is exact only among the users of one Adapter.
//   - Clear. gocache's Clear empties the whole store, which for Redis is
//     FLUSHALL: every database of the server. The bridge only calls it
//     after WithClear; otherwise Clear returns ErrClearUnsupported.
//   - There is no Increment: gocache has no atomic counter, so the Adapter
//     is not a cache.Incrementer and cache.Increment reports
//     errors.ErrUnsupported.
//   - Lost replies. The bridge cannot see how a store's client sends its
//     commands: a client that sends a write again after a lost reply
//     (go-redis does, up to MaxRetries times) may apply an Add twice and
//     report false, or make Delete report that nothing existed. Every
//     error a store returns from a write is reported as matching
//     cache.ErrUncertain, since the bridge cannot tell a refusal from a
//     lost reply. rediscache and memcachedcache keep the contract's
//     promise instead. The bridge has no timeout of its own: the store's
//     client bounds each call.
//   - Keys are passed through, after WithKeyPrefix's prefix. Stores with key
//     restrictions (Memcached: 250 bytes, no spaces or control characters)
//     reject other keys with their own errors.
//
// The Adapter implements cache.TTLGetter, so a cache.Chain can copy its hits
// with their remaining TTL, for the stores whose GetWithTTL is exact: only
// Ristretto. gocache's Redis store reads the TTL with TTL, in whole
// seconds rounded to the nearest, so an entry with 300 ms left reports 0,
// which the contract reads as "never expires", and a copy made from it
// would outlive the original.
package gocachebridge

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/eko/gocache/lib/v4/store"
)

var (
	// ErrUnexpectedValue reports a value of a type other than []byte or
	// string in the store, written there by other code.
	ErrUnexpectedValue = errors.New("gocachebridge: the store holds a value that is not []byte or string")

	// ErrDropped reports a Set that the store accepted but did not keep
	// (Ristretto's admission policy turns new entries down when the cache
	// is full). The previous value, if any, may be gone too.
	ErrDropped = errors.New("gocachebridge: the store dropped the entry")

	// ErrClearUnsupported reports a Clear without WithClear. It matches
	// errors.ErrUnsupported.
	ErrClearUnsupported = fmt.Errorf("gocachebridge: Clear would empty the whole gocache store (FLUSHALL on Redis), not just this adapter's keys; opt in with WithClear: %w", errors.ErrUnsupported)
)

// Option configures FromStore.
type Option func(*config)

type config struct {
	prefix        string
	clear         bool
	resolution    time.Duration
	hasResolution bool
	noExpiry      time.Duration
	hasNoExpiry   bool
}

// WithKeyPrefix puts prefix in front of every key, so that several
// adapters, or other users, can share one store.
func WithKeyPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithClear lets Clear call the store's Clear, which removes everything in
// the store (FLUSHALL on Redis, including other databases and other
// applications' keys), whatever WithKeyPrefix says. Use it only for a store
// of the adapter's own, such as a private Ristretto cache.
func WithClear() Option { return func(c *config) { c.clear = true } }

// WithTTLResolution sets the smallest TTL the store keeps; positive TTLs
// are rounded up to a whole multiple of it. The default depends on the
// store's GetType: one millisecond for "ristretto" and "redis", one
// nanosecond for "go-cache", and one second for "memcache" and stores the
// bridge does not know (so that a store counting whole seconds, such as
// freecache, never sees a TTL it would truncate to 0).
func WithTTLResolution(d time.Duration) Option {
	return func(c *config) { c.resolution, c.hasResolution = d, true }
}

// WithNoExpiry sets the expiration to send for a ttl of 0, "never expires".
// The default is -1 for "go-cache" (whose 0 means the client's default
// expiry) and 0 for every other store.
func WithNoExpiry(d time.Duration) Option {
	return func(c *config) { c.noExpiry, c.hasNoExpiry = d, true }
}

// profile is what the bridge knows of a store type.
type profile struct {
	resolution time.Duration
	noExpiry   time.Duration
	maxTTL     time.Duration // 0: no limit
	noTTL      bool          // the store ignores expirations
	verifySet  bool          // the store may drop a Set it accepted
	exactTTL   bool          // GetWithTTL is exact: 0 only for no expiry
}

// profiles are from the source of each gocache store (lib/v4 era).
var profiles = map[string]profile{
	"ristretto": {resolution: time.Millisecond, verifySet: true, exactTTL: true},
	"redis":     {resolution: time.Millisecond},
	// Expiration is sent as int32 seconds; past 30 days Memcached reads
	// it as a Unix time, long past, and drops the entry at once.
	"memcache": {resolution: time.Second, maxTTL: 30 * 24 * time.Hour},
	"go-cache": {resolution: time.Nanosecond, noExpiry: -1},
	"bigcache": {noTTL: true},
}

const stripes = 256

// Adapter is a cache.Adapter on a gocache store. Create it with FromStore.
type Adapter struct {
	st     store.StoreInterface
	setnx  store.SetIfNotExistsStore // nil when the store has none
	prefix string
	clear  bool
	prof   profile

	// mu is held shared by every operation and exclusively by Close, so
	// that Close waits for the calls in progress.
	mu     sync.RWMutex
	closed bool
	seed   maphash.Seed
	locks  [stripes]sync.Mutex
}

// ttlAdapter is an Adapter on a store whose GetWithTTL is exact.
type ttlAdapter struct{ *Adapter }

var (
	_ cache.Adapter   = (*Adapter)(nil)
	_ cache.TTLGetter = ttlAdapter{}
)

// FromStore returns a cache.Adapter on s; see the package documentation for
// how each rule of the contract is kept. The adapter does not own s: Close
// marks the adapter closed and leaves s, and its client, to the caller.
//
// The result is an *Adapter, or for stores with an exact GetWithTTL
// (Ristretto, Redis) a value that also implements cache.TTLGetter.
func FromStore(s store.StoreInterface, opts ...Option) cache.Adapter {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	prof, known := profiles[s.GetType()]
	if !known {
		prof = profile{resolution: time.Second}
	}
	if cfg.hasResolution {
		prof.resolution = cfg.resolution
	}
	if cfg.hasNoExpiry {
		prof.noExpiry = cfg.noExpiry
	}
	a := &Adapter{st: s, prefix: cfg.prefix, clear: cfg.clear, prof: prof, seed: maphash.MakeSeed()}
	a.setnx, _ = s.(store.SetIfNotExistsStore)
	if prof.exactTTL {
		return ttlAdapter{a}
	}
	return a
}

func (a *Adapter) open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return cache.ErrClosed
	}
	return nil
}

func (a *Adapter) lock(key string) func() {
	l := &a.locks[maphash.String(a.seed, key)%stripes]
	l.Lock()
	return l.Unlock
}

// expiration maps a contract TTL to the store's expiration option.
func (a *Adapter) expiration(ttl time.Duration) (time.Duration, error) {
	if err := cache.CheckTTL(ttl); err != nil {
		return 0, err
	}
	switch {
	case ttl == 0:
		return a.prof.noExpiry, nil
	case a.prof.noTTL:
		return 0, fmt.Errorf("gocachebridge: %s store ignores expirations, so it cannot keep a TTL of %v: %w", a.st.GetType(), ttl, errors.ErrUnsupported)
	}
	ttl = cache.RoundTTL(ttl, a.prof.resolution)
	if a.prof.maxTTL > 0 && ttl > a.prof.maxTTL {
		return 0, fmt.Errorf("gocachebridge: %s store cannot keep a TTL of %v (at most %v): %w", a.st.GetType(), ttl, a.prof.maxTTL, errors.ErrUnsupported)
	}
	return ttl, nil
}

func isNotFound(err error) bool {
	return errors.Is(err, store.NotFound{}) || errors.Is(err, cache.ErrNotFound)
}

// bytesOf copies a stored value out. The store may hand back the very slice
// it keeps (Ristretto), so a copy is needed either way.
func bytesOf(key string, v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return append(make([]byte, 0, len(v)), v...), nil
	case string:
		return append(make([]byte, 0, len(v)), v...), nil
	}
	return nil, fmt.Errorf("%w: key %q holds a %T", ErrUnexpectedValue, key, v)
}

func (a *Adapter) get(ctx context.Context, key string) ([]byte, error) {
	v, err := a.st.Get(ctx, a.prefix+key)
	if isNotFound(err) {
		return nil, cache.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("gocachebridge: get %q: %w", key, err)
	}
	return bytesOf(key, v)
}

// Get returns a copy of the value stored under key.
func (a *Adapter) Get(ctx context.Context, key string) ([]byte, error) {
	if err := a.open(ctx); err != nil {
		return nil, err
	}
	defer a.mu.RUnlock()
	return a.get(ctx, key)
}

// Has reports whether key has an unexpired entry.
func (a *Adapter) Has(ctx context.Context, key string) (bool, error) {
	if err := a.open(ctx); err != nil {
		return false, err
	}
	defer a.mu.RUnlock()
	_, err := a.get(ctx, key)
	if errors.Is(err, cache.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// set writes a copy of value; the key's stripe lock must be held.
func (a *Adapter) set(ctx context.Context, key string, value []byte, exp time.Duration) error {
	v := append(make([]byte, 0, len(value)), value...)
	start := time.Now()
	if err := a.st.Set(ctx, a.prefix+key, v, store.WithExpiration(exp), store.WithSynchronousSet()); err != nil {
		return fmt.Errorf("gocachebridge: set %q: %w: %w", key, cache.ErrUncertain, err)
	}
	if a.prof.verifySet {
		// A miss is a drop unless the entry's TTL has simply run out.
		if _, err := a.st.Get(ctx, a.prefix+key); isNotFound(err) && (exp == 0 || time.Since(start) < exp) {
			return fmt.Errorf("%w (key %q)", ErrDropped, key)
		}
	}
	return nil
}

// Set stores a copy of value under key; a ttl of 0 never expires.
func (a *Adapter) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	exp, err := a.expiration(ttl)
	if err != nil {
		return err
	}
	if err := a.open(ctx); err != nil {
		return err
	}
	defer a.mu.RUnlock()
	defer a.lock(key)()
	return a.set(ctx, key, value, exp)
}

// Add stores value only when key has no unexpired entry; see the package
// documentation for when it is atomic.
func (a *Adapter) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	exp, err := a.expiration(ttl)
	if err != nil {
		return false, err
	}
	if err := a.open(ctx); err != nil {
		return false, err
	}
	defer a.mu.RUnlock()
	if a.setnx != nil {
		v := append(make([]byte, 0, len(value)), value...)
		added, err := a.setnx.SetIfNotExists(ctx, a.prefix+key, v, store.WithExpiration(exp), store.WithSynchronousSet())
		if err != nil {
			return false, fmt.Errorf("gocachebridge: add %q: %w: %w", key, cache.ErrUncertain, err)
		}
		return added, nil
	}
	defer a.lock(key)()
	if _, err := a.get(ctx, key); !errors.Is(err, cache.ErrNotFound) {
		return false, err
	}
	if err := a.set(ctx, key, value, exp); err != nil {
		return false, err
	}
	return true, nil
}

// Delete removes key and reports whether an unexpired entry existed.
func (a *Adapter) Delete(ctx context.Context, key string) (bool, error) {
	if err := a.open(ctx); err != nil {
		return false, err
	}
	defer a.mu.RUnlock()
	defer a.lock(key)()
	_, err := a.st.Get(ctx, a.prefix+key)
	existed := err == nil
	if err != nil && !isNotFound(err) {
		return false, fmt.Errorf("gocachebridge: delete %q: %w", key, err)
	}
	if err := a.st.Delete(ctx, a.prefix+key); err != nil {
		return false, fmt.Errorf("gocachebridge: delete %q: %w: %w", key, cache.ErrUncertain, err)
	}
	return existed, nil
}

// Clear empties the whole store when WithClear allowed it, and otherwise
// returns ErrClearUnsupported.
func (a *Adapter) Clear(ctx context.Context) error {
	if err := a.open(ctx); err != nil {
		return err
	}
	defer a.mu.RUnlock()
	if !a.clear {
		return ErrClearUnsupported
	}
	if err := a.st.Clear(ctx); err != nil {
		return fmt.Errorf("gocachebridge: clear: %w: %w", cache.ErrUncertain, err)
	}
	return nil
}

// Close marks the adapter closed, after the calls in progress end. The
// store stays open: it belongs to the caller.
func (a *Adapter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	return nil
}

// GetWithTTL returns a copy of the value stored under key and the time it
// has left, 0 meaning that it never expires.
func (t ttlAdapter) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	a := t.Adapter
	if err := a.open(ctx); err != nil {
		return nil, 0, err
	}
	defer a.mu.RUnlock()
	v, ttl, err := a.st.GetWithTTL(ctx, a.prefix+key)
	if isNotFound(err) {
		return nil, 0, cache.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("gocachebridge: get %q: %w", key, err)
	}
	switch {
	case ttl == -2:
		// Redis: the key expired between the GET and the TTL.
		return nil, 0, cache.ErrNotFound
	case ttl < 0:
		// Redis: -1, no expiry.
		ttl = 0
	case ttl == 0:
		// Ristretto reads the TTL apart from the value and reports 0
		// both for no expiry and for an entry that expired in between;
		// a second read tells them apart.
		if _, err := a.st.Get(ctx, a.prefix+key); isNotFound(err) {
			return nil, 0, cache.ErrNotFound
		}
	}
	b, err := bytesOf(key, v)
	return b, ttl, err
}
