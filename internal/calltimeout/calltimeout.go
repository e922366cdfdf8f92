// Package calltimeout bounds each call of a networked adapter, so that a
// server that stops answering cannot block a caller whose context has no
// deadline (the request context of an HTTP handler has none).
package calltimeout

import (
	"context"
	"fmt"
	"time"
)

// Default is the per-call timeout of every networked adapter in this
// module unless it is given another one: long enough for any single
// operation on a loaded server, short enough that a stalled server costs a
// caller seconds rather than the minutes of a TCP timeout.
const Default = 5 * time.Second

// Check returns an error for a timeout that cannot bound anything.
func Check(pkg string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s: the per-call timeout must be positive, not %v", pkg, d)
	}
	return nil
}

// Bound returns ctx limited to d from now, unless ctx already ends by then,
// in which case it returns ctx itself and allocates nothing.
func Bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Begin starts a call bounded by d: it returns ready, the adapter's own
// check made before anything is sent (closed, or ctx already done), when it
// is not nil, and otherwise ctx bounded as Bound does, whose cancel the
// caller defers in either case.
func Begin(ctx context.Context, d time.Duration, ready error) (context.Context, context.CancelFunc, error) {
	if ready != nil {
		return ctx, func() {}, ready
	}
	ctx, cancel := Bound(ctx, d)
	return ctx, cancel, nil
}

// Step calls fn with ctx bounded by d: one round trip of a call that makes
// many (Clear, DeleteExpired), which bounds each of them rather than the
// whole call, so that a large namespace takes as long as it needs while a
// server that stops answering still ends it.
func Step(ctx context.Context, d time.Duration, fn func(ctx context.Context) error) error {
	ctx, cancel := Bound(ctx, d)
	defer cancel()
	return fn(ctx)
}
