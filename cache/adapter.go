package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Adapter is the contract every backend implements. The rules each method
// follows are in the package documentation; cachetest checks them.
type Adapter interface {
	// Get returns a copy of the value stored under key, or an error
	// matching ErrNotFound when there is no unexpired entry.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores a copy of value under key. A ttl of 0 never expires.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Add stores value only when key has no unexpired entry, atomically,
	// and reports whether it did.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (added bool, err error)
	// Delete removes key and reports whether an unexpired entry existed.
	Delete(ctx context.Context, key string) (existed bool, err error)
	// Has reports whether key has an unexpired entry.
	Has(ctx context.Context, key string) (bool, error)
	// Clear removes every entry this adapter wrote, and nothing else.
	Clear(ctx context.Context) error
	// Close releases what the adapter holds and stops its goroutines. It
	// is idempotent; afterwards every method returns ErrClosed.
	Close() error
}

// Incrementer is implemented by adapters with an atomic counter.
type Incrementer interface {
	// Increment adds delta to the integer stored under key and returns
	// the result. See the package documentation for the rules.
	Increment(ctx context.Context, key string, delta int64) (int64, error)
}

// Batcher is implemented by adapters that handle several keys in one round
// trip.
type Batcher interface {
	// GetMany returns the hits among keys; misses are simply absent from
	// the map.
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)
	// SetMany stores every item with the same ttl.
	SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error
	// DeleteMany removes keys and reports how many unexpired entries
	// existed among them.
	DeleteMany(ctx context.Context, keys []string) (deleted int, err error)
}

// Viewer is implemented by adapters that can lend a stored value without
// copying it, which saves an allocation per read when the bytes are only
// decoded (Cache[T].Get reads this way).
type Viewer interface {
	// View calls fn with the value stored under key, or returns an error
	// matching ErrNotFound without calling fn. The slice is valid only
	// until fn returns and must not be modified. View returns fn's error.
	View(ctx context.Context, key string, fn func(value []byte) error) error
}

// Swapper is implemented by adapters that can change an entry only while it
// is still in the state the caller read (compare-and-swap), each call in one
// round trip. A read-modify-write loop built on it (GetVersion, change,
// CompareAndSwap, and again from GetVersion when it reports false) loses no
// concurrent change and needs no lock; package session saves this way.
type Swapper interface {
	// GetVersion returns a copy of the value stored under key and the
	// Version of the entry, or an error matching ErrNotFound when there is
	// no unexpired entry.
	GetVersion(ctx context.Context, key string) (value []byte, ver Version, err error)
	// CompareAndSwap stores value under key with ttl (0: no expiry) when
	// key's unexpired entry is still at version ver, and reports whether
	// it did. It never creates an entry: on a missing or expired key it
	// reports false. A false result changes nothing.
	CompareAndSwap(ctx context.Context, key string, ver Version, value []byte, ttl time.Duration) (swapped bool, err error)
	// CompareAndTouch gives key's entry a new ttl (0: no expiry), keeping
	// its value, when the entry is unexpired and still at version ver, and
	// reports whether it did. The entry's version afterwards is the
	// adapter's choice: read it again before another CompareAndSwap.
	CompareAndTouch(ctx context.Context, key string, ver Version, ttl time.Duration) (touched bool, err error)
}

// Version identifies one state of an entry, as a Swapper's GetVersion saw
// it. It is opaque to callers. Adapters make one with MakeVersion from what
// their backend compares: a CAS token, a hash of the value, or the value
// itself. Two states with equal values may share a Version (a swap then
// succeeds on an entry that was changed and changed back, which for a
// compare of values is the same state). The zero Version matches no entry.
type Version struct {
	b  []byte
	ok bool
}

// MakeVersion returns the Version that b identifies, for adapter authors.
// The Version keeps b, which must not be modified afterwards.
func MakeVersion(b []byte) Version { return Version{b: b, ok: true} }

// Bytes returns what MakeVersion was given, for the adapter that made the
// Version; nil for the zero Version. It must not be modified.
func (v Version) Bytes() []byte { return v.b }

// IsZero reports whether v is the zero Version, which matches no entry.
func (v Version) IsZero() bool { return !v.ok }

// Sweeper is implemented by adapters whose backend does not remove expired
// entries by itself (files, SQL tables, some document stores). Reads never
// return expired entries either way; sweeping only frees the space.
type Sweeper interface {
	// DeleteExpired removes expired entries and reports how many it
	// removed.
	DeleteExpired(ctx context.Context) (deleted int, err error)
}

// Increment adds delta to the counter under key through the adapter's
// Incrementer. It never falls back to a get-then-set, which would not be
// atomic: without the capability it returns an error matching
// errors.ErrUnsupported.
func Increment(ctx context.Context, a Adapter, key string, delta int64) (int64, error) {
	if inc, ok := a.(Incrementer); ok {
		return inc.Increment(ctx, key, delta)
	}
	return 0, fmt.Errorf("cache: %T has no atomic Increment: %w", a, errors.ErrUnsupported)
}

// View calls fn with the value stored under key, without a copy when the
// adapter is a Viewer and with Get otherwise. fn must not keep or modify the
// slice.
func View(ctx context.Context, a Adapter, key string, fn func(value []byte) error) error {
	if v, ok := a.(Viewer); ok {
		return v.View(ctx, key, fn)
	}
	b, err := a.Get(ctx, key)
	if err != nil {
		return err
	}
	return fn(b)
}

// GetMany returns the hits among keys, in one round trip when the adapter is
// a Batcher and with one Get per key otherwise.
func GetMany(ctx context.Context, a Adapter, keys []string) (map[string][]byte, error) {
	if b, ok := a.(Batcher); ok {
		return b.GetMany(ctx, keys)
	}
	hits := make(map[string][]byte, len(keys))
	for _, k := range keys {
		v, err := a.Get(ctx, k)
		switch {
		case err == nil:
			hits[k] = v
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	return hits, nil
}

// SetMany stores every item with the same ttl, in one round trip when the
// adapter is a Batcher and with one Set per item otherwise. Without the
// capability, an error stops the loop and items not yet stored stay unset.
func SetMany(ctx context.Context, a Adapter, items map[string][]byte, ttl time.Duration) error {
	if b, ok := a.(Batcher); ok {
		return b.SetMany(ctx, items, ttl)
	}
	if err := CheckTTL(ttl); err != nil {
		return err
	}
	for k, v := range items {
		if err := a.Set(ctx, k, v, ttl); err != nil {
			return err
		}
	}
	return nil
}

// DeleteMany removes keys and reports how many unexpired entries existed, in
// one round trip when the adapter is a Batcher and with one Delete per key
// otherwise.
func DeleteMany(ctx context.Context, a Adapter, keys []string) (int, error) {
	if b, ok := a.(Batcher); ok {
		return b.DeleteMany(ctx, keys)
	}
	n := 0
	for _, k := range keys {
		existed, err := a.Delete(ctx, k)
		if err != nil {
			return n, err
		}
		if existed {
			n++
		}
	}
	return n, nil
}
