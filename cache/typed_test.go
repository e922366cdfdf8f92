package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
)

type profile struct {
	Name    string
	Age     int
	Tags    []string
	Avatar  []byte
	Updated time.Time
	Scores  map[string]float64
}

func newMemory(t *testing.T) cache.Adapter {
	t.Helper()
	m, err := memorycache.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestTypedRoundTrip(t *testing.T) {
	want := profile{Name: "ada", Age: 36, Tags: []string{"a", "b"}, Avatar: []byte{0, 1, 2},
		Updated: time.Date(2026, 11, 26, 7, 0, 0, 123456789, time.FixedZone("x", 3600)),
		Scores:  map[string]float64{"x": 1.5}}
	for name, codec := range map[string]cache.Codec{"cbor": cache.CBORCodec{}, "json": cache.JSONCodec{}} {
		t.Run(name, func(t *testing.T) {
			c := cache.New[profile](newMemory(t), cache.WithCodec(codec))
			ctx := t.Context()
			if err := c.Set(ctx, "p", want); err != nil {
				t.Fatal(err)
			}
			got, err := c.Get(ctx, "p")
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != want.Name || got.Age != want.Age || len(got.Tags) != 2 || string(got.Avatar) != string(want.Avatar) ||
				!got.Updated.Equal(want.Updated) || got.Scores["x"] != 1.5 {
				t.Fatalf("round trip = %+v, want %+v", got, want)
			}
			if _, err := c.Get(ctx, "missing"); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("Get(missing) = %v", err)
			}
		})
	}
}

func TestTypedDefaultTTL(t *testing.T) {
	c := cache.New[string](newMemory(t), cache.WithDefaultTTL(50*time.Millisecond))
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Add(ctx, "k", "other"); ok || err != nil {
		t.Fatalf("Add on a present key = %v, %v", ok, err)
	}
	if err := c.SetWithTTL(ctx, "forever", "v", 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if ok, _ := c.Has(ctx, "k"); ok {
		t.Fatal("entry outlived the default TTL")
	}
	if ok, _ := c.Has(ctx, "forever"); !ok {
		t.Fatal("entry with TTL 0 expired")
	}
}

func TestTypedDecodeErrorNamesKey(t *testing.T) {
	a := newMemory(t)
	ctx := t.Context()
	if err := a.Set(ctx, "corrupt", []byte{0xff, 0x00, 0x13}, 0); err != nil {
		t.Fatal(err)
	}
	c := cache.New[profile](a)
	_, err := c.Get(ctx, "corrupt")
	var de *cache.DecodeError
	if !errors.As(err, &de) || de.Key != "corrupt" {
		t.Fatalf("Get of undecodable bytes = %v, want a *DecodeError naming the key", err)
	}
	if _, err := c.GetMany(ctx, []string{"corrupt"}); !errors.As(err, &de) {
		t.Fatalf("GetMany of undecodable bytes = %v, want a *DecodeError", err)
	}
	// A type mismatch is an error too, never a zero value with nil.
	if err := cache.New[string](a).Set(ctx, "s", "text"); err != nil {
		t.Fatal(err)
	}
	if v, err := cache.New[int](a).Get(ctx, "s"); err == nil {
		t.Fatalf("Get of a string as int = %d, nil; want a *DecodeError", v)
	}
}

func TestTypedBatch(t *testing.T) {
	c := cache.New[int](newMemory(t))
	ctx := t.Context()
	if err := c.SetMany(ctx, map[string]int{"a": 1, "b": 2}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetMany(ctx, []string{"a", "b", "c"})
	if err != nil || len(got) != 2 || got["a"] != 1 || got["b"] != 2 {
		t.Fatalf("GetMany = %v, %v", got, err)
	}
	if ok, err := c.Delete(ctx, "a"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Has(ctx, "b"); ok {
		t.Fatal("Clear left an entry")
	}
	if c.Adapter() == nil {
		t.Fatal("Adapter() is nil")
	}
}

func TestGetOrSetLoadsOnce(t *testing.T) {
	c := cache.New[string](newMemory(t))
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(ctx context.Context) (string, error) {
		calls.Add(1)
		<-release
		return "loaded", nil
	}
	const n = 20
	var wg sync.WaitGroup
	results := make(chan string, n)
	for range n {
		wg.Go(func() {
			v, err := c.GetOrSet(t.Context(), "k", load)
			if err != nil {
				t.Error(err)
			}
			results <- v
		})
	}
	time.Sleep(50 * time.Millisecond) // let every caller miss and join the flight
	close(release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != "loaded" {
			t.Fatalf("GetOrSet = %q", v)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("load called %d times for %d concurrent misses, want 1", calls.Load(), n)
	}
	// Now a hit: load is not called.
	v, err := c.GetOrSet(t.Context(), "k", func(context.Context) (string, error) {
		t.Fatal("load called on a hit")
		return "", nil
	})
	if v != "loaded" || err != nil {
		t.Fatalf("GetOrSet hit = %q, %v", v, err)
	}
}

func TestGetOrSetErrors(t *testing.T) {
	c := cache.New[string](newMemory(t))
	boom := errors.New("boom")
	if _, err := c.GetOrSet(t.Context(), "k", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("GetOrSet with failing load = %v", err)
	}
	if ok, _ := c.Has(t.Context(), "k"); ok {
		t.Fatal("a failed load stored something")
	}
	// A caller whose context ends stops waiting; the load goes on for
	// the others and its result is stored.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	_, err := c.GetOrSet(ctx, "slow", func(context.Context) (string, error) {
		<-done
		return "late", nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetOrSet past the deadline = %v", err)
	}
	close(done)
	deadline := time.Now().Add(time.Second)
	for {
		if v, err := c.Get(t.Context(), "slow"); err == nil {
			if v != "late" {
				t.Fatalf("stored %q", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the abandoned load's result was never stored")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIncrementUnsupported(t *testing.T) {
	_, err := cache.Increment(t.Context(), bare{newMemory(t)}, "n", 1)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Increment without Incrementer = %v", err)
	}
}
