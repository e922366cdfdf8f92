package uncertain_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/uncertain"
)

func TestWrap(t *testing.T) {
	if uncertain.Wrap(nil) != nil {
		t.Fatal("Wrap(nil) is not nil")
	}
	err := uncertain.Wrap(context.DeadlineExceeded)
	if !errors.Is(err, cache.ErrUncertain) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wrap(DeadlineExceeded) = %v: want both errors to match", err)
	}
	if again := uncertain.Wrap(err); again != err {
		t.Fatalf("Wrap wrapped an uncertain error again: %v", again)
	}
}

type safe bool

func (s safe) Error() string     { return "retryable" }
func (s safe) SafeToRetry() bool { return bool(s) }

func TestUnsent(t *testing.T) {
	// A port nothing listens on: connecting fails before anything is sent.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, dialErr := net.DialTimeout("tcp", addr, time.Second)
	if dialErr == nil {
		t.Skip("something listens on the closed port")
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("get: %w", dialErr), true},
		{fmt.Errorf("exec: %w", safe(true)), true},
		{safe(false), false},
		{&net.OpError{Op: "read", Err: errors.New("i/o timeout")}, false},
		{context.DeadlineExceeded, false},
		{errors.New("EOF"), false},
	} {
		if got := uncertain.Unsent(c.err); got != c.want {
			t.Errorf("Unsent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
