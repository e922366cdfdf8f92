package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// TTLGetter is implemented by adapters that can tell how long an entry has
// left to live. Chain uses it to fill its faster layers with the remaining
// TTL of a hit, so that a copy never outlives the original.
type TTLGetter interface {
	// GetWithTTL returns a copy of the value stored under key and the
	// time it has left to live, 0 meaning that it never expires, or an
	// error matching ErrNotFound when there is no unexpired entry.
	GetWithTTL(ctx context.Context, key string) (value []byte, ttl time.Duration, err error)
}

// ErrNoLayers reports a Chain built without layers or with a nil layer.
var ErrNoLayers = errors.New("cache: Chain needs at least one layer, and no nil layer")

// ChainOption configures a Chain made by NewChain.
type ChainOption func(*chainConfig)

type chainConfig struct {
	fillTTL time.Duration
}

// ChainFillTTL lets a Chain copy a hit from a layer that is not a
// TTLGetter into the faster layers, with TTL d. By default it does not,
// because it cannot know how long the original has left: a copy made with
// any fixed TTL may outlive the original by up to d, breaking the rule that
// an entry is gone once its TTL ends (and a copy made with "no expiry"
// would never go). Opt in when serving a value up to d after it expired or
// was incremented elsewhere is acceptable; a d of 0 or less keeps the
// default. Hits in a TTLGetter layer are always copied, with their exact
// remaining TTL.
func ChainFillTTL(d time.Duration) ChainOption { return func(c *chainConfig) { c.fillTTL = d } }

// Chain returns an adapter that stacks layers, fastest first: usually an
// in-process memory cache over a shared server. It is NewChain with the
// default options; given no layer or a nil one, it returns an adapter whose
// every method fails with an error matching ErrNoLayers.
//
// See NewChain for the semantics.
func Chain(layers ...Adapter) Adapter {
	a, err := NewChain(layers)
	if err != nil {
		return brokenChain{err}
	}
	return a
}

// NewChain returns an adapter that stacks layers, fastest first. The last
// layer is the authoritative one: the others hold copies of its entries.
//
// A read (Get, Has) asks the layers in order and stops at the first hit. Get
// then copies the hit into the faster layers that missed, with its remaining
// TTL, when the hit layer is a TTLGetter; a hit in another layer is not
// copied (unless ChainFillTTL allows a bounded TTL instead), so a copy never
// gets "no expiry" or a longer life than the original by mistake. The
// copy is made with Add, so it never overwrites a value that a concurrent
// Set has just written; an error while copying is ignored, since the read
// itself succeeded. An error from a layer other than a miss ends the read
// with that error.
//
// Set, Delete and Clear go through every layer synchronously, the last
// layer first, and return the errors of all layers joined. When Set fails on
// a layer, the key is deleted from the layers faster than the last one that
// failed to store it, so that none of them serves a value the authoritative
// layer does not hold. Once the last layer has been asked to change a key,
// the faster layers are brought in line even if the caller's context ends
// meanwhile, as it has when the last layer's reply came too late (an error
// matching ErrUncertain); their own timeouts bound them. Delete reports whether any layer had an unexpired
// entry, which is what Get would have seen.
//
// Add is as atomic as the last layer's Add: it runs there and, when it
// stores the value, the value is Set in the faster layers. Increment runs on
// the last layer and deletes the key from the faster layers (also when the
// last layer reports ErrUncertain), so the next Get copies the new value
// with its TTL; the Chain implements Incrementer only
// when its last layer does.
//
// One race is inherent to copying layers: a Get that read an old value from
// a slow layer just before a Delete (or Increment) may copy it into a faster
// layer just after the Delete removed it there. The stale copy then lives
// until its TTL ends, which is why copies carry the original's remaining
// TTL.
//
// The Chain does not own its layers: Close only marks the Chain closed
// (every method then returns ErrClosed) and the caller closes the layers.
func NewChain(layers []Adapter, opts ...ChainOption) (Adapter, error) {
	if len(layers) == 0 {
		return nil, ErrNoLayers
	}
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("%w (layer %d is nil)", ErrNoLayers, i)
		}
	}
	var cfg chainConfig
	for _, o := range opts {
		o(&cfg)
	}
	c := &chain{layers: append([]Adapter(nil), layers...), fillTTL: cfg.fillTTL}
	if inc, ok := layers[len(layers)-1].(Incrementer); ok {
		return &incrementingChain{chain: c, inc: inc}, nil
	}
	return c, nil
}

// chain is a Chain whose last layer has no Incrementer.
type chain struct {
	layers  []Adapter
	fillTTL time.Duration
	closed  atomic.Bool
}

// incrementingChain is a Chain whose last layer is an Incrementer. Keeping
// it a separate type means a Chain only claims Incrementer when it can
// honour it.
type incrementingChain struct {
	*chain
	inc Incrementer
}

func (c *chain) ready(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

func (c *chain) last() Adapter { return c.layers[len(c.layers)-1] }

// getTTL reads key from layer l, with its remaining TTL when l can tell.
func getTTL(ctx context.Context, l Adapter, key string) (v []byte, ttl time.Duration, known bool, err error) {
	if g, ok := l.(TTLGetter); ok {
		v, ttl, err = g.GetWithTTL(ctx, key)
		return v, ttl, true, err
	}
	v, err = l.Get(ctx, key)
	return v, 0, false, err
}

// Get returns the value from the first layer that has key, and copies it
// into the faster layers.
func (c *chain) Get(ctx context.Context, key string) ([]byte, error) {
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	for i, l := range c.layers {
		var start time.Time
		if i > 0 {
			start = time.Now()
		}
		v, ttl, known, err := getTTL(ctx, l, key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		switch {
		case i == 0:
		case known && ttl > 0:
			// The TTL was measured during the read: what is left of
			// it now, so the copy does not outlive the original.
			if ttl -= time.Since(start); ttl > 0 {
				c.fill(ctx, i, key, v, ttl)
			}
		case known:
			c.fill(ctx, i, key, v, 0)
		case c.fillTTL > 0:
			c.fill(ctx, i, key, v, c.fillTTL)
		}
		return v, nil
	}
	return nil, ErrNotFound
}

// fill copies a hit from layer i into the faster layers, with Add so that
// it never replaces a value a concurrent Set has just written there. It is
// best effort: the read succeeded, and a layer that refused the copy is
// merely slower for this key.
func (c *chain) fill(ctx context.Context, i int, key string, v []byte, ttl time.Duration) {
	for _, faster := range c.layers[:i] {
		_, _ = faster.Add(ctx, key, v, ttl)
	}
}

// Has reports whether any layer has an unexpired entry for key.
func (c *chain) Has(ctx context.Context, key string) (bool, error) {
	if err := c.ready(ctx); err != nil {
		return false, err
	}
	for _, l := range c.layers {
		ok, err := l.Has(ctx, key)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// Set stores value in every layer, the last first.
func (c *chain) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := CheckTTL(ttl); err != nil {
		return err
	}
	if err := c.ready(ctx); err != nil {
		return err
	}
	return c.setFaster(ctx, len(c.layers), key, value, ttl)
}

// setFaster stores value in layers[:n], slowest first. Where a Set fails,
// the key is deleted from every faster layer, and from the failed layer
// itself unless it is the authoritative one (which keeps its old value, as
// a failed Set must), so that no layer serves a value that differs from
// the authoritative layer's.
func (c *chain) setFaster(ctx context.Context, n int, key string, value []byte, ttl time.Duration) error {
	var errs []error
	for i := n - 1; i >= 0; i-- {
		if err := c.layers[i].Set(c.layerContext(ctx, i), key, value, ttl); err != nil {
			errs = append(errs, fmt.Errorf("cache: Chain layer %d: %w", i, err))
			for j := min(i, len(c.layers)-2); j >= 0; j-- {
				if _, err := c.layers[j].Delete(context.WithoutCancel(ctx), key); err != nil {
					errs = append(errs, fmt.Errorf("cache: Chain layer %d: removing the old value after a failed Set: %w", j, err))
				}
			}
			break
		}
	}
	return errors.Join(errs...)
}

// Add stores value through the last layer's Add and, when it was added,
// in the faster layers.
func (c *chain) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := CheckTTL(ttl); err != nil {
		return false, err
	}
	if err := c.ready(ctx); err != nil {
		return false, err
	}
	n := len(c.layers) - 1
	added, err := c.last().Add(ctx, key, value, ttl)
	if err != nil || !added {
		return false, err
	}
	return true, c.setFaster(ctx, n, key, value, ttl)
}

// Delete removes key from every layer, the last first, and reports whether
// any of them had an unexpired entry.
func (c *chain) Delete(ctx context.Context, key string) (bool, error) {
	if err := c.ready(ctx); err != nil {
		return false, err
	}
	existed, err := c.deleteFaster(ctx, len(c.layers), key)
	return existed, err
}

// layerContext is the context for layer i of a write. The last layer gets
// the caller's; once it has been asked to change a key, the faster layers
// must follow it even if the caller's context ends meanwhile (a deadline
// that cut the last layer's reply short has passed by then), or they would
// serve a value the last layer no longer holds. Their own timeouts still
// bound them.
func (c *chain) layerContext(ctx context.Context, i int) context.Context {
	if i == len(c.layers)-1 {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (c *chain) deleteFaster(ctx context.Context, n int, key string) (bool, error) {
	var errs []error
	existed := false
	for i := n - 1; i >= 0; i-- {
		ok, err := c.layers[i].Delete(c.layerContext(ctx, i), key)
		if err != nil {
			errs = append(errs, fmt.Errorf("cache: Chain layer %d: %w", i, err))
		}
		existed = existed || ok
	}
	return existed, errors.Join(errs...)
}

// Clear clears every layer, the last first.
func (c *chain) Clear(ctx context.Context) error {
	if err := c.ready(ctx); err != nil {
		return err
	}
	var errs []error
	for i := len(c.layers) - 1; i >= 0; i-- {
		if err := c.layers[i].Clear(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cache: Chain layer %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Close marks the Chain closed. It does not close the layers, which the
// caller owns.
func (c *chain) Close() error {
	c.closed.Store(true)
	return nil
}

// Increment increments the counter in the last layer and deletes the key
// from the faster ones.
func (c *incrementingChain) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := c.ready(ctx); err != nil {
		return 0, err
	}
	n, err := c.inc.Increment(ctx, key, delta)
	if errors.Is(err, ErrUncertain) {
		// The counter may have moved: the faster layers must not keep
		// serving its old value.
		if _, derr := c.deleteFaster(ctx, len(c.layers)-1, key); derr != nil {
			return 0, errors.Join(err, derr)
		}
	}
	if err != nil {
		return 0, err
	}
	if _, err := c.deleteFaster(ctx, len(c.layers)-1, key); err != nil {
		return n, fmt.Errorf("cache: Chain: incremented to %d, but a faster layer may still hold the old value: %w", n, err)
	}
	return n, nil
}

// brokenChain is what Chain returns for bad layers: every method reports
// why, none panics.
type brokenChain struct{ err error }

func (b brokenChain) Get(context.Context, string) ([]byte, error) { return nil, b.err }
func (b brokenChain) Set(context.Context, string, []byte, time.Duration) error {
	return b.err
}
func (b brokenChain) Add(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, b.err
}
func (b brokenChain) Delete(context.Context, string) (bool, error) { return false, b.err }
func (b brokenChain) Has(context.Context, string) (bool, error)    { return false, b.err }
func (b brokenChain) Clear(context.Context) error                  { return b.err }
func (b brokenChain) Close() error                                 { return nil }
