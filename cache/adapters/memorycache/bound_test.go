package memorycache_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

// perEntry is the bookkeeping WithCapacity charges each entry on top of its
// value.
const perEntry = 128

// charged adds up what the entries present in c cost against its capacity,
// and the length of their values; size[i] is the length of the value last
// stored under keys[i]. Has does not count as a use, so measuring leaves the
// admission policy as it was.
func charged(t *testing.T, c *memorycache.Cache, keys []string, size []int) (cost, values int64) {
	t.Helper()
	for i, k := range keys {
		ok, err := c.Has(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			cost += int64(size[i] + perEntry)
			values += int64(size[i])
		}
	}
	return cost, values
}

// setChecked sets key to value and checks the outcome: either Set returns
// nil and a read sees value, or it returns ErrRejected and the key is
// absent. It reports whether the value was stored.
func setChecked(t *testing.T, c *memorycache.Cache, key string, value []byte) bool {
	t.Helper()
	err := c.Set(t.Context(), key, value, 0)
	switch {
	case errors.Is(err, memorycache.ErrRejected):
		if ok, _ := c.Has(t.Context(), key); ok {
			t.Fatalf("Set(%q) of %d bytes reported ErrRejected but the key is present", key, len(value))
		}
		return false
	case err != nil:
		t.Fatalf("Set(%q) of %d bytes: %v", key, len(value), err)
	}
	err = c.View(t.Context(), key, func(got []byte) error {
		if len(got) != len(value) || got[0] != value[0] || got[len(got)-1] != value[len(value)-1] {
			return fmt.Errorf("holds %d bytes starting %d, want the %d bytes starting %d just set", len(got), got[0], len(value), value[0])
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View(%q) right after Set returned nil: %v", key, err)
	}
	return true
}

// liveHeap collects garbage and returns the bytes of live heap objects.
// Each test binary is a process of its own, and no other test of this
// package runs at the same time, so what changes between two calls is this
// test's doing. One collection is not enough: a sync.Pool keeps its objects
// through the next one too, and ristretto pools buffers that point to their
// cache's policy, so a cache an earlier test closed still held 36 MiB after
// it. Collecting until a collection frees nothing more counts live objects
// only.
func liveHeap() int64 {
	var ms runtime.MemStats
	live := int64(math.MaxInt64)
	for range 10 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if int64(ms.HeapAlloc) >= live {
			break
		}
		live = int64(ms.HeapAlloc)
	}
	return live
}

// Overwriting keys with ever larger values keeps the cache within its
// capacity. Ristretto applies an overwrite in place and makes no room for
// the extra cost, so this once left a 16 MiB cache holding 256 MiB, every
// Set returning nil.
func TestGrowingOverwritesKeepHeapBound(t *testing.T) {
	const (
		capacity = 16 << 20
		nkeys    = 10000
		maxSize  = 64 << 10
		// The live heap may exceed the capacity by ristretto's fixed
		// structures (its frequency sketch alone is 1 MiB here) and by the
		// allocator rounding large values up to whole pages.
		bound = capacity * 3 / 2
	)
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("grow:%d", i)
	}
	size := make([]int, nkeys)
	buf := make([]byte, maxSize)
	var sizes []int
	for s := 100; s < maxSize; s *= 4 {
		sizes = append(sizes, s)
	}
	sizes = append(sizes, maxSize)

	base := liveHeap()
	c := newCache(t, memorycache.WithCapacity(capacity))
	defer c.Close()
	var peak, live int64
	measure := func(when string) {
		live = liveHeap() - base
		peak = max(peak, live)
		if live > bound {
			t.Fatalf("%s: live heap grew by %.1f MiB, %.2f times the capacity of %d MiB",
				when, float64(live)/(1<<20), float64(live)/capacity, capacity>>20)
		}
	}
	rejected := 0
	for round, n := range sizes {
		value := buf[:n]
		for i := range value {
			value[i] = byte(round + 1)
		}
		for i, k := range keys {
			if setChecked(t, c, k, value) {
				size[i] = n
			} else {
				rejected++
			}
			if i%2500 == 2499 {
				measure(fmt.Sprintf("values of %d bytes, %d keys overwritten", n, i+1))
			}
		}
		sum, values := charged(t, c, keys, size)
		if sum > capacity {
			t.Fatalf("values of %d bytes: the entries present are charged %d bytes, capacity %d", n, sum, capacity)
		}
		// The values present are live heap objects: a measurement that
		// does not see them is broken and would pass anything.
		if live < values {
			t.Fatalf("values of %d bytes: live heap grew by %d bytes, less than the %d bytes of values present", n, live, values)
		}
	}
	t.Logf("peak live heap %.1f MiB for a capacity of %d MiB: %.2f times; %d Sets reported ErrRejected",
		float64(peak)/(1<<20), capacity>>20, float64(peak)/capacity, rejected)
}

// Overwrites whose values both grow and shrink keep the entries present
// within the capacity. Every key fits at the base size, so until values
// outgrow it all writes are overwrites, which ristretto applies in place;
// values that shrink a little and grow back stay within the charge they
// kept, and the round at 1.3 times the base size only fits by evicting.
func TestFluctuatingOverwritesKeepBound(t *testing.T) {
	const (
		capacity = 1 << 20
		nkeys    = 800
		base     = 1000 // 800 entries of 1050 bytes fit, of 1300 do not
	)
	c := newCache(t, memorycache.WithCapacity(capacity))
	defer c.Close()
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("fluct:%d", i)
	}
	size := make([]int, nkeys)
	rnd := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2*base)
	for round, scale := range []float64{1, 0.9, 1, 1.3, 0.8, 1.5, 1, 1.1} {
		for i, k := range keys {
			// Up to 5% either way, so some values grow and some shrink
			// within a round too.
			n := int(base * scale * (0.95 + rnd.Float64()/10))
			value := buf[:n]
			value[0], value[n-1] = byte(round), byte(i)
			if setChecked(t, c, k, value) {
				size[i] = n
			}
		}
		if sum, _ := charged(t, c, keys, size); sum > capacity {
			t.Fatalf("round %d, values about %.1f times %d bytes: the entries present are charged %d bytes, capacity %d",
				round, scale, base, sum, capacity)
		}
	}
}

// A full cache either makes room for an entry that grows, evicting others,
// or rejects the larger value; it never keeps it on top of the capacity, nor
// the value it was meant to replace.
func TestGrowingOverwriteMakesRoomOrIsRejected(t *testing.T) {
	const n = 16
	keys := make([]string, n)
	size := make([]int, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		size[i] = 1000
	}
	capacity := int64(n * (1000 + perEntry))
	c := newCache(t, memorycache.WithCapacity(capacity))
	defer c.Close()
	ctx := t.Context()
	for _, k := range keys {
		if err := c.Set(ctx, k, make([]byte, 1000), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Every key but k0 is read often, so the admission policy may prefer
	// them to a larger k0.
	for range 100 {
		for _, k := range keys[1:] {
			c.Get(ctx, k)
		}
	}
	big := make([]byte, 4000)
	big[0], big[len(big)-1] = 1, 2
	if setChecked(t, c, "k0", big) {
		size[0] = len(big)
	} else {
		cachetest.WantMiss(t, c, "k0")
	}
	if sum, _ := charged(t, c, keys, size); sum > capacity {
		t.Fatalf("after k0 grew to %d bytes the entries present are charged %d bytes, capacity %d", len(big), sum, capacity)
	}
}
