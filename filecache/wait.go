package filecache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Polling intervals for a lock another process holds: flock(2) cannot be
// interrupted once it blocks, so a wait that must end by a deadline tries
// without blocking, and sleeps in between, from pollMin doubling up to
// pollMax.
const (
	pollMin = 50 * time.Microsecond
	pollMax = 2 * time.Millisecond
)

// budget bounds the time one call spends waiting: for a lock that another
// goroutine or process holds, or for another pruner to make room. A wait
// ends when the call's context ends or, at the latest, the lock timeout
// after the call first had to wait, so that a stalled peer cannot hold a
// call up for longer even when its context has no deadline. Calls that
// never wait never look at the clock.
type budget struct {
	ctx     context.Context
	timeout time.Duration
	end     time.Time // zero until the call first waits
	byCtx   bool      // end is the context's deadline
}

func (c *Cache) budget(ctx context.Context) *budget {
	return &budget{ctx: ctx, timeout: c.lockTimeout}
}

// left returns the time left to wait, fixing the end on the first call.
func (b *budget) left() time.Duration {
	if b.end.IsZero() {
		b.end = time.Now().Add(b.timeout)
		if d, ok := b.ctx.Deadline(); ok && !d.After(b.end) {
			b.end, b.byCtx = d, true
		}
	}
	return time.Until(b.end)
}

// expired is the error of a wait that ran out of time.
func (b *budget) expired() error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	if b.byCtx {
		// The clock reached the deadline a moment before the context
		// noticed.
		return context.DeadlineExceeded
	}
	return fmt.Errorf("%w of %v: %w", ErrLockTimeout, b.timeout, context.DeadlineExceeded)
}

// acquire takes the semaphore sem within the budget.
func (b *budget) acquire(sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	left := b.left()
	if left <= 0 {
		return b.expired()
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return nil
	case <-b.ctx.Done():
		return b.ctx.Err()
	case <-t.C:
		return b.expired()
	}
}

// poll calls try until it reports done or fails, sleeping between attempts
// with exponential backoff, within the budget.
func (b *budget) poll(try func() (done bool, err error)) error {
	for d := pollMin; ; d = min(2*d, pollMax) {
		if done, err := try(); done || err != nil {
			return err
		}
		left := b.left()
		if left <= 0 {
			return b.expired()
		}
		// Jitter, so that processes polling the same lock do not fall
		// into step with each other or with its holder.
		t := time.NewTimer(min(d/2+rand.N(d/2), left))
		select {
		case <-b.ctx.Done():
			t.Stop()
			return b.ctx.Err()
		case <-t.C:
		}
	}
}
