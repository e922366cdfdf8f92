package calltimeout_test

import (
	"context"
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
