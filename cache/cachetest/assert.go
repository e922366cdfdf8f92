package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// The helpers below fail the test with the operation, key and what was
// expected, so a failure reads as a sentence.

func set(t *testing.T, a cache.Adapter, key, val string, ttl time.Duration) {
	t.Helper()
	if err := a.Set(t.Context(), key, []byte(val), ttl); err != nil {
		t.Fatalf("Set(%q, %d bytes, %v): %v", clip(key), len(val), ttl, err)
	}
}

// WantValue fails t unless a holds want under key, for adapter tests that
// check more than the suite does.
func WantValue(t testing.TB, a cache.Adapter, key, want string) {
	t.Helper()
	fatal(t, CheckValue(t.Context(), a, key, want))
}

// CheckValue reports, as an error saying what a holds instead, when a does
// not hold want under key: for Attempt.Live, which judges a failure by
// when it happened.
func CheckValue(ctx context.Context, a cache.Adapter, key, want string) error {
	got, err := a.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("Get(%q) = error %v, want %q", clip(key), err, clip(want))
	}
	if got == nil || !bytes.Equal(got, []byte(want)) {
		return fmt.Errorf("Get(%q) = %q, want %q", clip(key), clip(string(got)), clip(want))
	}
	return nil
}

// WantMiss fails t unless Get of key on a is a miss: an error matching
// cache.ErrNotFound and no value.
func WantMiss(t testing.TB, a cache.Adapter, key string) {
	t.Helper()
	got, err := a.Get(t.Context(), key)
	if !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want an error matching cache.ErrNotFound", clip(key), clip(string(got)), err)
	}
	if got != nil {
		t.Fatalf("Get(%q) returned %q along with ErrNotFound, want nil", clip(key), clip(string(got)))
	}
}

func wantHas(t *testing.T, a cache.Adapter, key string, want bool) {
	t.Helper()
	fatal(t, checkHas(t.Context(), a, key, want))
}

func checkHas(ctx context.Context, a cache.Adapter, key string, want bool) error {
	got, err := a.Has(ctx, key)
	if err != nil || got != want {
		return fmt.Errorf("Has(%q) = %v, %v; want %v, nil", clip(key), got, err, want)
	}
	return nil
}

func wantDelete(t *testing.T, a cache.Adapter, key string, want bool) {
	t.Helper()
	got, err := a.Delete(t.Context(), key)
	if err != nil || got != want {
		t.Fatalf("Delete(%q) = %v, %v; want %v, nil", clip(key), got, err, want)
	}
}

func wantAdd(t *testing.T, a cache.Adapter, key, val string, ttl time.Duration, want bool) {
	t.Helper()
	fatal(t, checkAdd(t.Context(), a, key, val, ttl, want))
}

func checkAdd(ctx context.Context, a cache.Adapter, key, val string, ttl time.Duration, want bool) error {
	got, err := a.Add(ctx, key, []byte(val), ttl)
	if err != nil || got != want {
		return fmt.Errorf("Add(%q, %q, %v) = %v, %v; want %v, nil", clip(key), clip(val), ttl, got, err, want)
	}
	return nil
}

func wantIncrement(t *testing.T, a cache.Adapter, key string, delta, want int64) {
	t.Helper()
	fatal(t, checkIncrement(t.Context(), a, key, delta, want))
}

func checkIncrement(ctx context.Context, a cache.Adapter, key string, delta, want int64) error {
	got, err := cache.Increment(ctx, a, key, delta)
	if err != nil || got != want {
		return fmt.Errorf("Increment(%q, %d) = %d, %v; want %d, nil", clip(key), delta, got, err, want)
	}
	return nil
}

// fatal fails t with err, if there is one.
func fatal(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, op string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one matching %v", op, err, target)
	}
}

// sleep waits d, or fails the test if its context ends first.
func sleep(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-time.After(d):
	case <-t.Context().Done():
		t.Fatal("test context ended while waiting for expiry")
	}
}

// canceled returns a context that is already cancelled.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// clip keeps failure messages readable when keys or values are large.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
