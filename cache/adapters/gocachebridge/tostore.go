package gocachebridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/eko/gocache/lib/v4/store"
)

// StoreType is what a Store's GetType returns.
const StoreType = "cachelib"

// DefaultUnknownTTL is what Store.GetWithTTL reports as the time left when
// the adapter cannot tell, unless WithUnknownTTL says otherwise.
const DefaultUnknownTTL = time.Minute

// ErrTagsUnsupported reports a Set with store.WithTags or an Invalidate by
// tags on a Store: adapters have no tags. It matches both
// store.ErrNotSupported and errors.ErrUnsupported.
var ErrTagsUnsupported = fmt.Errorf("gocachebridge: cache.Adapter has no tags: %w (%w)", store.ErrNotSupported, errors.ErrUnsupported)

// StoreOption configures ToStore.
type StoreOption func(*Store)

// WithUnknownTTL sets the TTL that GetWithTTL reports when the adapter is
// not a cache.TTLGetter and so cannot tell how long an entry has left. The
// default is DefaultUnknownTTL; d must be positive, and ToStore ignores
// other values.
//
// gocache's ChainCache copies a hit into its faster caches with this TTL,
// so it bounds how long such a copy may outlive the original. It is never
// 0, which gocache stores read as "no expiry".
func WithUnknownTTL(d time.Duration) StoreOption {
	return func(s *Store) {
		if d > 0 {
			s.unknownTTL = d
		}
	}
}

// Store is a gocache store.StoreInterface (and store.SetIfNotExistsStore)
// on a cache.Adapter. Create it with ToStore.
//
// Keys must be strings, which is what gocache's Cache passes after turning
// other keys into strings. Values must be []byte or string (put gocache's
// marshaler in front for other types); Get returns []byte. Expirations
// follow the adapter's contract: 0 never expires and a negative one is
// refused. Costs and WithSynchronousSet are ignored: every Set is
// synchronous. Tags are not supported (ErrTagsUnsupported). Clear is the
// adapter's Clear, which removes only what the adapter wrote (its folder,
// namespace or key prefix), never a whole server.
type Store struct {
	a          cache.Adapter
	unknownTTL time.Duration
}

var _ store.SetIfNotExistsStore = (*Store)(nil)

// ToStore returns a gocache store on a. The Store does not own a: it has
// no Close, so gocache's Cache.Close leaves a open for the caller to close.
func ToStore(a cache.Adapter, opts ...StoreOption) *Store {
	s := &Store{a: a, unknownTTL: DefaultUnknownTTL}
	for _, o := range opts {
		o(s)
	}
	return s
}

func stringKey(key any) (string, error) {
	if k, ok := key.(string); ok {
		return k, nil
	}
	return "", fmt.Errorf("gocachebridge: keys must be strings, got %T", key)
}

func valueBytes(value any) ([]byte, error) {
	switch v := value.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, fmt.Errorf("gocachebridge: values must be []byte or string, got %T (use gocache's marshaler for other types)", value)
}

// notFound turns a miss into the error gocache expects; it still matches
// cache.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, cache.ErrNotFound) {
		return store.NotFoundWithCause(err)
	}
	return err
}

// Get returns the value stored under key, as []byte.
func (s *Store) Get(ctx context.Context, key any) (any, error) {
	k, err := stringKey(key)
	if err != nil {
		return nil, err
	}
	v, err := s.a.Get(ctx, k)
	if err != nil {
		return nil, notFound(err)
	}
	return v, nil
}

// GetWithTTL returns the value stored under key and the time it has left:
// exact when the adapter is a cache.TTLGetter (0 meaning no expiry), and
// the unknown TTL (see WithUnknownTTL) otherwise.
func (s *Store) GetWithTTL(ctx context.Context, key any) (any, time.Duration, error) {
	k, err := stringKey(key)
	if err != nil {
		return nil, 0, err
	}
	if g, ok := s.a.(cache.TTLGetter); ok {
		v, ttl, err := g.GetWithTTL(ctx, k)
		if err != nil {
			return nil, 0, notFound(err)
		}
		return v, ttl, nil
	}
	v, err := s.a.Get(ctx, k)
	if err != nil {
		return nil, 0, notFound(err)
	}
	return v, s.unknownTTL, nil
}

func (s *Store) setArgs(key, value any, options []store.Option) (string, []byte, time.Duration, error) {
	opts := store.ApplyOptions(options...)
	if len(opts.Tags) > 0 {
		return "", nil, 0, ErrTagsUnsupported
	}
	k, err := stringKey(key)
	if err != nil {
		return "", nil, 0, err
	}
	v, err := valueBytes(value)
	return k, v, opts.Expiration, err
}

// Set stores value under key with the expiration of store.WithExpiration (0
// never expires).
func (s *Store) Set(ctx context.Context, key, value any, options ...store.Option) error {
	k, v, ttl, err := s.setArgs(key, value, options)
	if err != nil {
		return err
	}
	return s.a.Set(ctx, k, v, ttl)
}

// SetIfNotExists stores value only when key has no unexpired entry, with
// the adapter's Add, and reports whether it did.
func (s *Store) SetIfNotExists(ctx context.Context, key, value any, options ...store.Option) (bool, error) {
	k, v, ttl, err := s.setArgs(key, value, options)
	if err != nil {
		return false, err
	}
	return s.a.Add(ctx, k, v, ttl)
}

// Delete removes key. Deleting a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key any) error {
	k, err := stringKey(key)
	if err != nil {
		return err
	}
	_, err = s.a.Delete(ctx, k)
	return err
}

// Invalidate returns ErrTagsUnsupported when given tags, and does nothing
// otherwise.
func (s *Store) Invalidate(_ context.Context, options ...store.InvalidateOption) error {
	if len(store.ApplyInvalidateOptions(options...).Tags) > 0 {
		return ErrTagsUnsupported
	}
	return nil
}

// Clear removes every entry the adapter wrote, and nothing else.
func (s *Store) Clear(ctx context.Context) error { return s.a.Clear(ctx) }

// GetType returns StoreType.
func (s *Store) GetType() string { return StoreType }
