// Package memorycache is an in-process cache.Adapter on
// github.com/dgraph-io/ristretto/v2, bounded by a capacity in bytes.
//
// Ristretto applies new entries asynchronously: a plain ristretto Set can
// return before a Get sees the value, and can drop the value when its buffer
// is full or its admission policy turns it down. This adapter keeps the
// contract of package cache on top of it:
//
//   - Read-your-writes. When Set returns nil, a Get sees the value (until it
//     expires, is overwritten, or is evicted to make room). Overwriting an
//     entry with a value no larger is applied in place at once; a Set that
//     creates an entry, or makes one larger, waits for ristretto to apply it.
//   - The capacity holds for overwrites too. Ristretto makes room only when
//     it admits a key it does not hold: it replaces an existing key's value
//     in place and merely notes the larger cost, so keys that keep growing
//     would fill memory without bound. A Set that makes an entry larger
//     therefore removes the key and adds it anew, so ristretto evicts other
//     entries or rejects the value. Meanwhile readers may see the new value,
//     then a miss.
//   - Nothing is dropped silently. A Set ristretto's buffer refuses is
//     retried; a value its admission policy rejects (the cache is full of
//     entries used more often) is reported as ErrRejected; a value larger
//     than the whole capacity is reported as cache.ErrTooLarge.
//   - Add and Increment are atomic: writers of one key are serialised by a
//     striped lock, so Add's check and Increment's read-modify-write see no
//     interleaved write.
package memorycache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/dgraph-io/ristretto/v2"
)

// DefaultCapacity is the capacity in bytes unless WithCapacity says
// otherwise: 64 MiB.
const DefaultCapacity = 64 << 20

// Resolution is the smallest TTL the adapter keeps: shorter positive TTLs
// are rounded up to it.
const Resolution = time.Millisecond

// entryOverhead approximates, in bytes, what ristretto and this adapter keep
// per entry besides the value (item, map slot, policy and expiry records).
const entryOverhead = 128

const stripes = 256

// ErrRejected reports a value that ristretto's admission policy turned down
// because the cache is full of entries that are used more often. For a new
// key the cache is left as it was. A rejected value larger than the one it
// was to replace leaves the key absent, so that readers never get the value
// the caller meant to replace. A later Set of a key that has been read
// often enough is admitted.
var ErrRejected = errors.New("memorycache: entry rejected by the admission policy: the cache is full")

// Option configures a Cache.
type Option func(*config)

type config struct {
	capacity int64
}

// WithCapacity bounds the memory the cache uses, in bytes: the length of
// every value plus about 128 bytes of bookkeeping per entry. An entry
// overwritten with a value up to an eighth smaller stays charged for the
// larger one, so that values whose size varies a little are replaced in
// place. The default is DefaultCapacity. A value larger than the capacity
// gives cache.ErrTooLarge.
func WithCapacity(bytes int64) Option { return func(c *config) { c.capacity = bytes } }

// An entry is what ristretto stores: one allocation holding a small header
// and then the value, so a Get follows no pointer beyond ristretto's own.
// The header holds:
//
//   - the expiry (Unix nanoseconds, 0 for none), which Increment keeps;
//   - the charge, the cost ristretto's policy counts for the entry, which
//     it reads through Config.Cost when it applies the write;
//   - a flag that ristretto's OnReject callback sets. OnReject runs before a
//     later Wait returns, so a writer that waited reads the flag safely and
//     learns whether its own entry was admitted;
//   - how the entry was stored, which the ShouldUpdate callback records
//     when the entry replaces another in place (see replace).
//
// The header is written before ristretto publishes the entry, except for
// the rejected flag, which readers never look at.
const (
	expOff      = 0
	chargeOff   = 8
	rejectedOff = 16
	stateOff    = 17
	headerSize  = 18
)

// States of an entry, at stateOff.
const (
	added    = iota // not (yet) in the cache: ristretto's goroutine will add it
	replaced        // replaced another entry in place, within that entry's charge
	grew            // replaced a smaller entry in place: the policy must make room
)

func makeEntry(value []byte, exp, charge int64) []byte {
	e := make([]byte, headerSize+len(value))
	binary.LittleEndian.PutUint64(e[expOff:], uint64(exp))
	binary.LittleEndian.PutUint64(e[chargeOff:], uint64(charge))
	copy(e[headerSize:], value)
	return e
}

func entryExp(e []byte) int64     { return int64(binary.LittleEndian.Uint64(e[expOff:])) }
func entryCharge(e []byte) int64  { return int64(binary.LittleEndian.Uint64(e[chargeOff:])) }
func entryRejected(e []byte) bool { return e[rejectedOff] != 0 }

// replace is ristretto's ShouldUpdate callback. Ristretto calls it with the
// key's lock held when cur is about to replace prev in place, before cur is
// visible or queued, and then records cur's charge as the key's cost without
// evicting anything. So a cur costing more than prev's charge is marked
// grew, and put makes ristretto add it anew. A cur costing a little less
// keeps prev's charge: should the value grow back, it still fits.
func replace(cur, prev []byte) bool {
	was := entryCharge(prev)
	cost := entryCharge(cur)
	switch {
	case cost > was:
		cur[stateOff] = grew
		return true
	case cost >= was-was/8:
		binary.LittleEndian.PutUint64(cur[chargeOff:], uint64(was))
	}
	cur[stateOff] = replaced
	return true
}

// Cache is an in-memory cache.Adapter. It also implements cache.Incrementer,
// cache.Batcher, cache.Viewer and cache.TTLGetter. Create it with New and release it with Close.
type Cache struct {
	// mu is held shared by every operation and exclusively by Close:
	// ristretto panics when used during or after its Close.
	mu       sync.RWMutex
	closed   bool
	rc       *ristretto.Cache[string, []byte]
	capacity int64
	seed     maphash.Seed
	locks    [stripes]sync.Mutex
}

var _ interface {
	cache.Adapter
	cache.Incrementer
	cache.Batcher
	cache.Viewer
	cache.TTLGetter
} = (*Cache)(nil)

// New returns an empty Cache.
func New(opts ...Option) (*Cache, error) {
	cfg := config{capacity: DefaultCapacity}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.capacity <= 0 {
		return nil, fmt.Errorf("memorycache: capacity must be positive, got %d", cfg.capacity)
	}
	// Ristretto wants about ten counters per entry it may hold; assume
	// entries of a few hundred bytes.
	counters := min(max(cfg.capacity/32, 1<<10), 1<<24)
	keySeed, conflictSeed := maphash.MakeSeed(), maphash.MakeSeed()
	rc, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		// Two independently seeded maphash sums give ristretto its 128
		// bits of key identity at about half the cost of its default
		// (memhash plus xxhash), which every Get pays.
		KeyToHash: func(k string) (uint64, uint64) {
			return maphash.String(keySeed, k), maphash.String(conflictSeed, k)
		},
		NumCounters:        counters,
		MaxCost:            cfg.capacity,
		BufferItems:        64,
		IgnoreInternalCost: true,
		// put passes a cost of 0, so ristretto asks for the charge when
		// it applies the write, after replace has settled it.
		Cost:         entryCharge,
		ShouldUpdate: replace,
		OnReject:     func(it *ristretto.Item[[]byte]) { it.Value[rejectedOff] = 1 },
	})
	if err != nil {
		return nil, fmt.Errorf("memorycache: %w", err)
	}
	return &Cache{rc: rc, capacity: cfg.capacity, seed: maphash.MakeSeed()}, nil
}

// open checks the context and takes the shared lock; the caller must call
// c.mu.RUnlock when it returns nil.
func (c *Cache) open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return cache.ErrClosed
	}
	return nil
}

func (c *Cache) stripe(key string) int {
	return int(maphash.String(c.seed, key) % stripes)
}

func (c *Cache) newEntry(key string, value []byte, exp int64) ([]byte, error) {
	cost := int64(len(value)) + entryOverhead
	if cost > c.capacity {
		return nil, fmt.Errorf("%w: key %q: %d bytes with bookkeeping, capacity %d", cache.ErrTooLarge, key, cost, c.capacity)
	}
	return makeEntry(value, exp, cost), nil
}

// expiry returns the Unix nanoseconds at which an entry written now with ttl
// expires, or 0 for none.
func expiry(ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	return time.Now().Add(cache.RoundTTL(ttl, Resolution)).UnixNano()
}

// value copies the value out of an entry; an empty value stays non-nil.
func value(e []byte) []byte {
	return append(make([]byte, 0, len(e)-headerSize), e[headerSize:]...)
}

// put hands e to ristretto and reports whether it is already visible; when
// it is not, the caller must Wait before reading it and then check whether
// it was rejected. The key's stripe lock must be held, so no other write of
// key can interleave.
func (c *Cache) put(ctx context.Context, key string, e []byte) (visible bool, err error) {
	if err := c.send(ctx, key, e); err != nil {
		return false, err
	}
	switch e[stateOff] {
	case replaced:
		return true, nil
	case grew:
		// Ristretto makes room only for a key it does not hold.
		c.rc.Del(key)
		if err := c.send(ctx, key, e); err != nil {
			return false, err
		}
	}
	return false, nil
}

// send queues e until ristretto's buffer takes it. An overwrite is applied
// in place before SetWithTTL returns (see replace); a new key is added by
// ristretto's goroutine.
func (c *Cache) send(ctx context.Context, key string, e []byte) error {
	for {
		ttl := time.Duration(0)
		if exp := entryExp(e); exp != 0 {
			// Never 0, which ristretto reads as "no expiry".
			ttl = max(time.Duration(exp-time.Now().UnixNano()), 1)
		}
		if c.rc.SetWithTTL(key, e, 0, ttl) {
			return nil
		}
		// The buffer was full: let ristretto drain it, then retry.
		if err := ctx.Err(); err != nil {
			return err
		}
		c.rc.Wait()
	}
}

// store puts e under key and returns once a Get sees it.
func (c *Cache) store(ctx context.Context, key string, e []byte) error {
	visible, err := c.put(ctx, key, e)
	if err != nil || visible {
		return err
	}
	c.rc.Wait()
	if entryRejected(e) {
		return fmt.Errorf("%w (key %q)", ErrRejected, key)
	}
	return nil
}

// Get returns a copy of the value stored under key.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	if err := c.open(ctx); err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	e, ok := c.rc.Get(key)
	if !ok {
		return nil, cache.ErrNotFound
	}
	return value(e), nil
}

// View calls fn with the stored value itself, without copying it. Entries
// are never changed in place (a Set replaces them), so the slice stays
// intact while fn runs even if the key is overwritten meanwhile; fn must not
// modify it. fn runs without any lock held, so it may use the Cache.
func (c *Cache) View(ctx context.Context, key string, fn func(value []byte) error) error {
	if err := c.open(ctx); err != nil {
		return err
	}
	e, ok := c.rc.Get(key)
	c.mu.RUnlock()
	if !ok {
		return cache.ErrNotFound
	}
	return fn(e[headerSize:])
}

// GetWithTTL returns a copy of the value stored under key and the time it
// has left to live, 0 meaning that it never expires. It implements
// cache.TTLGetter, so a cache.Chain can copy the entry into a faster layer
// without letting the copy outlive it.
func (c *Cache) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	if err := c.open(ctx); err != nil {
		return nil, 0, err
	}
	defer c.mu.RUnlock()
	e, ok := c.rc.Get(key)
	if !ok {
		return nil, 0, cache.ErrNotFound
	}
	var exp time.Time
	if ns := entryExp(e); ns != 0 {
		exp = time.Unix(0, ns)
	}
	left, ok := cache.TTLLeft(exp, Resolution)
	if !ok {
		return nil, 0, cache.ErrNotFound
	}
	return value(e), left, nil
}

// Set stores a copy of value under key; a ttl of 0 never expires.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	e, err := c.newEntry(key, value, expiry(ttl))
	if err != nil {
		return err
	}
	if err := c.open(ctx); err != nil {
		return err
	}
	defer c.mu.RUnlock()
	l := &c.locks[c.stripe(key)]
	l.Lock()
	defer l.Unlock()
	return c.store(ctx, key, e)
}

// Add stores value only when key has no unexpired entry.
func (c *Cache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := cache.CheckTTL(ttl); err != nil {
		return false, err
	}
	e, err := c.newEntry(key, value, expiry(ttl))
	if err != nil {
		return false, err
	}
	if err := c.open(ctx); err != nil {
		return false, err
	}
	defer c.mu.RUnlock()
	l := &c.locks[c.stripe(key)]
	l.Lock()
	defer l.Unlock()
	if _, ok := c.rc.GetTTL(key); ok {
		return false, nil
	}
	if err := c.store(ctx, key, e); err != nil {
		return false, err
	}
	return true, nil
}

// Delete removes key and reports whether an unexpired entry existed.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	if err := c.open(ctx); err != nil {
		return false, err
	}
	defer c.mu.RUnlock()
	l := &c.locks[c.stripe(key)]
	l.Lock()
	defer l.Unlock()
	_, existed := c.rc.GetTTL(key)
	c.rc.Del(key)
	return existed, nil
}

// Has reports whether key has an unexpired entry. Unlike Get it does not
// count as a use of the entry for the admission policy.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	if err := c.open(ctx); err != nil {
		return false, err
	}
	defer c.mu.RUnlock()
	_, ok := c.rc.GetTTL(key)
	return ok, nil
}

// Clear removes every entry.
func (c *Cache) Clear(ctx context.Context) error {
	if err := c.open(ctx); err != nil {
		return err
	}
	defer c.mu.RUnlock()
	c.rc.Clear()
	return nil
}

// Increment adds delta to the counter under key, atomically. See package
// cache for the rules.
func (c *Cache) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := c.open(ctx); err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	l := &c.locks[c.stripe(key)]
	l.Lock()
	defer l.Unlock()
	var n, exp int64
	if old, ok := c.rc.Get(key); ok {
		var err error
		if n, err = cache.ParseInt(old[headerSize:]); err != nil {
			return 0, fmt.Errorf("memorycache: increment of key %q: %w", key, err)
		}
		exp = entryExp(old)
	}
	sum, err := cache.AddInt(n, delta)
	if err != nil {
		return 0, fmt.Errorf("memorycache: increment of key %q: %w", key, err)
	}
	e, err := c.newEntry(key, cache.FormatInt(sum), exp)
	if err != nil {
		return 0, err
	}
	if err := c.store(ctx, key, e); err != nil {
		return 0, err
	}
	return sum, nil
}

// GetMany returns the hits among keys.
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := c.open(ctx); err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	hits := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if e, ok := c.rc.Get(k); ok {
			hits[k] = value(e)
		}
	}
	return hits, nil
}

// lockKeys takes the stripe locks of keys in ascending order, so batches
// cannot deadlock with each other, and returns the function that releases
// them.
func (c *Cache) lockKeys(keys []string) (unlock func()) {
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, c.stripe(k))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		c.locks[i].Lock()
	}
	return func() {
		for _, i := range idx {
			c.locks[i].Unlock()
		}
	}
}

// SetMany stores every item with the same ttl. New entries are applied with
// one wait for the whole batch instead of one per item.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	exp := expiry(ttl)
	keys := make([]string, 0, len(items))
	entries := make([][]byte, 0, len(items))
	for k, v := range items {
		e, err := c.newEntry(k, v, exp)
		if err != nil {
			return err
		}
		keys = append(keys, k)
		entries = append(entries, e)
	}
	if err := c.open(ctx); err != nil {
		return err
	}
	defer c.mu.RUnlock()
	defer c.lockKeys(keys)()
	waited := false
	for i, k := range keys {
		visible, err := c.put(ctx, k, entries[i])
		if err != nil {
			return err
		}
		waited = waited || !visible
	}
	if !waited {
		return nil
	}
	c.rc.Wait()
	var rejected []string
	for i, e := range entries {
		if entryRejected(e) {
			rejected = append(rejected, keys[i])
		}
	}
	if len(rejected) > 0 {
		return fmt.Errorf("%w: %d of %d items, such as key %q", ErrRejected, len(rejected), len(keys), rejected[0])
	}
	return nil
}

// DeleteMany removes keys and counts the unexpired entries that existed.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if err := c.open(ctx); err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	defer c.lockKeys(keys)()
	n := 0
	for _, k := range keys {
		if _, ok := c.rc.GetTTL(k); ok {
			n++
		}
		c.rc.Del(k)
	}
	return n, nil
}

// Close frees the memory and stops ristretto's goroutines. It waits for
// calls in progress to finish.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.rc.Close()
	}
	return nil
}
