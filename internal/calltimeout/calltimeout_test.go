package calltimeout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/internal/calltimeout"
)

func TestBound(t *testing.T) {
	// No deadline: the timeout becomes one.
	ctx, cancel := calltimeout.Bound(context.Background(), time.Minute)
	dl, ok := ctx.Deadline()
	cancel()
	if !ok || time.Until(dl) > time.Minute || time.Until(dl) < 50*time.Second {
		t.Fatalf("Bound(no deadline, 1m): deadline %v, %v; want about a minute from now", dl, ok)
	}
	// An earlier deadline stays; a later one is cut to the timeout.
	parent, cancelParent := context.WithTimeout(context.Background(), time.Second)
	defer cancelParent()
	if ctx, cancel := calltimeout.Bound(parent, time.Minute); ctx != parent {
		cancel()
		t.Fatal("Bound replaced a context that ends sooner than the timeout")
	}
	ctx, cancel = calltimeout.Bound(parent, time.Millisecond)
	defer cancel()
	<-ctx.Done()
	if parent.Err() != nil {
		t.Fatal("the parent ended with the bounded context")
	}
	if err := calltimeout.Check("x", 0); err == nil {
		t.Fatal("Check(0) accepted a timeout that bounds nothing")
	}
}

func TestBegin(t *testing.T) {
	closed := errors.New("closed")
	ctx, cancel, err := calltimeout.Begin(context.Background(), time.Minute, closed)
	cancel()
	if err != closed || ctx != context.Background() {
		t.Fatalf("Begin with a failed check = %v, %v; want the check's error and the context as it was", ctx, err)
	}
	ctx, cancel, err = calltimeout.Begin(context.Background(), time.Minute, nil)
	defer cancel()
	if _, ok := ctx.Deadline(); !ok || err != nil {
		t.Fatalf("Begin = %v, %v; want a context bounded by the timeout", ctx, err)
	}
}

func TestStep(t *testing.T) {
	var steps []context.Context
	for range 2 {
		err := calltimeout.Step(context.Background(), time.Minute, func(ctx context.Context) error {
			steps = append(steps, ctx)
			_, ok := ctx.Deadline()
			if !ok {
				return errors.New("no deadline")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each step had its own bound, ended once the step returned.
	for i, ctx := range steps {
		if ctx.Err() == nil {
			t.Fatalf("step %d: its context was not canceled when the step ended", i)
		}
	}
}
