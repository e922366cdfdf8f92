package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultTTL is the TTL that Cache.Set uses unless WithDefaultTTL says
// otherwise: 300 seconds, as in Python's cachelib.
const DefaultTTL = 300 * time.Second

// Option configures a Cache.
type Option func(*options)

type options struct {
	ttl   time.Duration
	codec Codec
}

// WithDefaultTTL sets the TTL used by Set, Add, SetMany and GetOrSet
// (default DefaultTTL). Zero means entries never expire.
func WithDefaultTTL(ttl time.Duration) Option { return func(o *options) { o.ttl = ttl } }

// WithCodec sets how values are encoded (default CBORCodec).
func WithCodec(c Codec) Option { return func(o *options) { o.codec = c } }

// DecodeError reports stored bytes that do not decode into the Cache's type.
// The entry is left as it is.
type DecodeError struct {
	Key string
	Err error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("cache: decoding value of key %q: %v", e.Key, e.Err)
}

// Unwrap returns the codec's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Cache is a typed front end over an Adapter: values of type T are encoded
// with a Codec on the way in and decoded on the way out. It is safe for
// concurrent use. Closing the Adapter is up to the caller.
type Cache[T any] struct {
	a      Adapter
	codec  Codec
	ttl    time.Duration
	flight singleflight.Group
}

// New returns a Cache of T values stored in a.
func New[T any](a Adapter, opts ...Option) *Cache[T] {
	o := options{ttl: DefaultTTL, codec: CBORCodec{}}
	for _, opt := range opts {
		opt(&o)
	}
	return &Cache[T]{a: a, codec: o.codec, ttl: o.ttl}
}

// Adapter returns the adapter the Cache stores its values in.
func (c *Cache[T]) Adapter() Adapter { return c.a }

func (c *Cache[T]) decode(key string, b []byte) (T, error) {
	var v T
	if err := c.codec.Unmarshal(b, &v); err != nil {
		var zero T
		return zero, &DecodeError{Key: key, Err: err}
	}
	return v, nil
}

func (c *Cache[T]) encode(key string, v T) ([]byte, error) {
	b, err := c.codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cache: encoding value of key %q: %w", key, err)
	}
	return b, nil
}

// Get returns the value under key. A miss gives an error matching
// ErrNotFound; bytes that do not decode into T give a *DecodeError, never a
// zero value with a nil error. Adapters that are Viewers are read without
// copying the stored bytes.
func (c *Cache[T]) Get(ctx context.Context, key string) (T, error) {
	var v T
	err := View(ctx, c.a, key, func(b []byte) error {
		if err := c.codec.Unmarshal(b, &v); err != nil {
			return &DecodeError{Key: key, Err: err}
		}
		return nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Set stores v under key with the default TTL.
func (c *Cache[T]) Set(ctx context.Context, key string, v T) error {
	return c.SetWithTTL(ctx, key, v, c.ttl)
}

// SetWithTTL stores v under key with the given TTL (0 never expires).
func (c *Cache[T]) SetWithTTL(ctx context.Context, key string, v T, ttl time.Duration) error {
	b, err := c.encode(key, v)
	if err != nil {
		return err
	}
	return c.a.Set(ctx, key, b, ttl)
}

// Add stores v under key with the default TTL only when key has no unexpired
// entry, and reports whether it did.
func (c *Cache[T]) Add(ctx context.Context, key string, v T) (bool, error) {
	b, err := c.encode(key, v)
	if err != nil {
		return false, err
	}
	return c.a.Add(ctx, key, b, c.ttl)
}

// Delete removes key and reports whether an unexpired entry existed.
func (c *Cache[T]) Delete(ctx context.Context, key string) (bool, error) {
	return c.a.Delete(ctx, key)
}

// Has reports whether key has an unexpired entry.
func (c *Cache[T]) Has(ctx context.Context, key string) (bool, error) {
	return c.a.Has(ctx, key)
}

// Clear removes every entry the adapter wrote.
func (c *Cache[T]) Clear(ctx context.Context) error { return c.a.Clear(ctx) }

// GetMany returns the hits among keys, decoded.
func (c *Cache[T]) GetMany(ctx context.Context, keys []string) (map[string]T, error) {
	raw, err := GetMany(ctx, c.a, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(raw))
	for k, b := range raw {
		v, err := c.decode(k, b)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// SetMany stores every item with the default TTL.
func (c *Cache[T]) SetMany(ctx context.Context, items map[string]T) error {
	raw := make(map[string][]byte, len(items))
	for k, v := range items {
		b, err := c.encode(k, v)
		if err != nil {
			return err
		}
		raw[k] = b
	}
	return SetMany(ctx, c.a, raw, c.ttl)
}

type loaded[T any] struct {
	v      T
	setErr error
}

// GetOrSet returns the value under key; on a miss it calls load, stores the
// result with the default TTL and returns it. Concurrent misses of one key
// in this Cache call load once and share its result.
//
// load runs with a context that carries ctx's values but not its
// cancellation, so that one caller giving up does not fail the others
// waiting on the same load; each caller still returns when its own ctx is
// done. If load succeeds but storing its result fails, GetOrSet returns the
// loaded value together with the store's error. A stored value that does not
// decode is reported as a *DecodeError, not reloaded over.
func (c *Cache[T]) GetOrSet(ctx context.Context, key string, load func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	v, err := c.Get(ctx, key)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return v, err
	}
	ch := c.flight.DoChan(key, func() (any, error) {
		lctx := context.WithoutCancel(ctx)
		// Another caller's load may have stored the value between our
		// miss and this flight starting.
		if v, err := c.Get(lctx, key); err == nil || !errors.Is(err, ErrNotFound) {
			return loaded[T]{v: v}, err
		}
		v, err := load(lctx)
		if err != nil {
			return nil, err
		}
		return loaded[T]{v: v, setErr: c.Set(lctx, key, v)}, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		l := r.Val.(loaded[T])
		return l.v, l.setErr
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
