package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// rules are the contract, in the order they run.
var rules = []rule{
	{Name: "GetMissing", Doc: "Get of a key that was never set gives an error matching cache.ErrNotFound.", Run: getMissing},
	{Name: "SetGet", Doc: "Get returns exactly the bytes Set stored.", Run: setGet},
	{Name: "SetOverwrites", Doc: "A second Set replaces both the value and the TTL of the first.", Run: setOverwrites},
	{Name: "EmptyValue", Doc: "An empty value is a hit: Get returns a non-nil empty slice and Has is true.", Run: emptyValue},
	{Name: "View", Doc: "View lends exactly the stored bytes to its callback, reports a miss without calling it, and returns its error.", Run: view},
	{Name: "GetWithTTL", Doc: "A TTLGetter reports the value with the time it has left: 0 for no expiry, never more than its TTL.", Run: getWithTTL},
	{Name: "ValuesCopied", Doc: "Changing the slice given to Set, or the slice Get returned, never changes the cache.", Run: valuesCopied},
	{Name: "ZeroTTLNeverExpires", Doc: "A TTL of 0 never expires: the entry outlives one that had a short TTL.", Run: zeroTTL},
	{Name: "NegativeTTL", Doc: "A negative TTL gives cache.ErrInvalidTTL from Set, Add and SetMany and stores nothing.", Run: negativeTTL},
	{Name: "TTLExpires", Doc: "An entry is a hit before its TTL ends and absent after it, for every operation.", Run: ttlExpires},
	{Name: "TinyTTLRoundsUp", Doc: "A TTL below the backend's resolution rounds up: never no expiry, never already expired (seen where a read can beat the resolution).", Run: tinyTTL},
	{Name: "AddAbsent", Doc: "Add stores a value under an absent key and reports true.", Run: addAbsent},
	{Name: "AddPresent", Doc: "Add on an unexpired key reports false and leaves its value and TTL alone.", Run: addPresent},
	{Name: "AddExpired", Doc: "Add over an expired entry stores the new value and reports true.", Run: addExpired},
	{Name: "AddConcurrent", Doc: "Of N concurrent Adds of one key exactly one reports true, and its value is the one stored.", Run: addConcurrent},
	{Name: "Delete", Doc: "Delete removes an entry and reports whether an unexpired one existed.", Run: deleteRule},
	{Name: "Has", Doc: "Has reports whether an unexpired entry exists, without changing it.", Run: hasRule},
	{Name: "IncrementMissing", Doc: "Increment of a missing key starts at 0, stores ASCII decimal, and the entry never expires.", Run: incrementMissing},
	{Name: "IncrementDecimal", Doc: "Increment works on ASCII decimal values stored by Set, across the int64 range.", Run: incrementDecimal},
	{Name: "IncrementKeepsTTL", Doc: "Increment keeps the expiry of an existing entry.", Run: incrementKeepsTTL},
	{Name: "IncrementNotInteger", Doc: "Increment of a value that is not an integer gives cache.ErrNotInteger and changes nothing.", Run: incrementNotInteger},
	{Name: "IncrementOverflow", Doc: "Increment beyond the int64 range gives cache.ErrOverflow and changes nothing.", Run: incrementOverflow},
	{Name: "IncrementConcurrent", Doc: "Concurrent Increments of one key are atomic: none is lost.", Run: incrementConcurrent},
	{Name: "GetMany", Doc: "GetMany returns exactly the hits with their values; misses and expired keys are absent.", Run: getMany},
	{Name: "SetMany", Doc: "SetMany stores every item with the given TTL.", Run: setMany},
	{Name: "DeleteMany", Doc: "DeleteMany removes the keys and counts only the unexpired entries that existed.", Run: deleteMany},
	{Name: "Clear", Doc: "Clear removes every entry the adapter wrote, and the adapter stays usable.", Run: clearRule},
	{Name: "ClearLeavesOthers", Doc: "Clear on one adapter leaves the entries of another adapter of the same backend alone.", Run: clearLeavesOthers},
	{Name: "OddKeys", Doc: "Keys with spaces, newlines, unicode, path tricks or 1,000 bytes round-trip and never collide.", Run: oddKeys},
	{Name: "LargeValue", Doc: "A 1 MiB value round-trips, or above the declared limit gives cache.ErrTooLarge and keeps the old value.", Run: largeValue},
	{Name: "Concurrency", Doc: "Goroutines mixing every operation on shared keys only ever read values that were written.", Run: concurrency},
	{Name: "CanceledContext", Doc: "Every method given a cancelled context returns its error and changes nothing.", Run: canceledContext},
	{Name: "Closed", Doc: "After Close every method returns cache.ErrClosed, and Close may be called again.", Run: closed},
	{Name: "DeleteExpired", Doc: "A Sweeper's DeleteExpired removes expired entries only and counts them.", Run: deleteExpired},
}

func getMissing(t *testing.T, h *harness) {
	a := h.new(t)
	WantMiss(t, a, "never-set")
	wantHas(t, a, "never-set", false)
}

func setGet(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "k", "value", 0)
	WantValue(t, a, "k", "value")
	bin := string([]byte{0, 1, 2, 0xff, '\n', 0})
	set(t, a, "bin", bin, time.Hour)
	WantValue(t, a, "bin", bin)
}

func setOverwrites(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "k", "one", 0)
	set(t, a, "k", "two", 0)
	WantValue(t, a, "k", "two")
	h.expiring(t, func(x *Attempt) {
		// A short TTL replaced by none: the entry stays.
		x.Set(a, "short-then-none", "a")
		set(t, a, "short-then-none", "b", 0)
		// No TTL replaced by a short one: the entry goes.
		set(t, a, "none-then-short", "a", 0)
		x.Set(a, "none-then-short", "b")
		x.Expire()
		WantValue(t, a, "short-then-none", "b")
		WantMiss(t, a, "none-then-short")
	})
}

func emptyValue(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "empty", "", 0)
	got, err := a.Get(t.Context(), "empty")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get(empty) = %#v, %v; want []byte{}, nil", got, err)
	}
	wantHas(t, a, "empty", true)
	if err := a.Set(t.Context(), "nil", nil, 0); err != nil {
		t.Fatalf("Set(nil value): %v", err)
	}
	got, err = a.Get(t.Context(), "nil")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get after Set(nil) = %#v, %v; want []byte{}, nil", got, err)
	}
	hits, err := cache.GetMany(t.Context(), a, []string{"empty"})
	if v, ok := hits["empty"]; err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("GetMany(empty) = %#v, %v; want a non-nil empty hit", hits, err)
	}
	wantDelete(t, a, "empty", true)
}

func view(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "k", "value", 0)
	set(t, a, "empty", "", 0)
	var got string
	if err := cache.View(t.Context(), a, "k", func(b []byte) error { got = string(b); return nil }); err != nil || got != "value" {
		t.Fatalf("View(k) saw %q, returned %v; want \"value\", nil", got, err)
	}
	if err := cache.View(t.Context(), a, "empty", func(b []byte) error {
		if b == nil || len(b) != 0 {
			return fmt.Errorf("View(empty) lent %#v, want a non-nil empty slice", b)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	called := false
	err := cache.View(t.Context(), a, "missing", func([]byte) error { called = true; return nil })
	wantErr(t, "View(missing)", err, cache.ErrNotFound)
	if called {
		t.Fatal("View called its callback on a miss")
	}
	stop := errors.New("callback error")
	wantErr(t, "View with a failing callback", cache.View(t.Context(), a, "k", func([]byte) error { return stop }), stop)
	WantValue(t, a, "k", "value")
}

func getWithTTL(t *testing.T, h *harness) {
	a := h.new(t)
	tg, ok := a.(cache.TTLGetter)
	if !ok {
		t.Skipf("%T does not implement cache.TTLGetter", a)
	}
	ctx := t.Context()
	set(t, a, "forever", "f", 0)
	v, ttl, err := tg.GetWithTTL(ctx, "forever")
	if err != nil || string(v) != "f" || ttl != 0 {
		t.Fatalf("GetWithTTL(forever) = %q, %v, %v; want \"f\", 0, nil", v, ttl, err)
	}
	_, _, err = tg.GetWithTTL(ctx, "missing")
	wantErr(t, "GetWithTTL(missing)", err, cache.ErrNotFound)
	h.expiring(t, func(x *Attempt) {
		a := h.new(t)
		tg := a.(cache.TTLGetter)
		x.Set(a, "k", "v")
		// What is left is at most the TTL (rounded up), and at least the
		// TTL less the time since the Set began (truncated).
		v, left, err := tg.GetWithTTL(ctx, "k")
		took, ttl := time.Since(x.first), cache.RoundTTL(x.TTL(), h.cfg.resolution)
		if err == nil && (string(v) != "v" || left <= 0 || left > ttl || left < ttl-took-h.cfg.resolution) {
			t.Fatalf("GetWithTTL(k) %v after a Set with TTL %v = %q, %v; want \"v\" with a TTL in [%v, %v]",
				took.Round(time.Millisecond), x.TTL(), v, left, max(ttl-took-h.cfg.resolution, 0), ttl)
		}
		if err != nil {
			x.Live(fmt.Errorf("GetWithTTL(k) %v after a Set with TTL %v: %w", took.Round(time.Millisecond), x.TTL(), err))
		}
		x.Expire()
		_, _, err = tg.GetWithTTL(ctx, "k")
		wantErr(t, "GetWithTTL of an expired key", err, cache.ErrNotFound)
	})
}

func valuesCopied(t *testing.T, h *harness) {
	a := h.new(t)
	in := []byte("original")
	if err := a.Set(t.Context(), "k", in, 0); err != nil {
		t.Fatal(err)
	}
	copy(in, "XXXXXXXX")
	WantValue(t, a, "k", "original")
	out, err := a.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	copy(out, "YYYYYYYY")
	WantValue(t, a, "k", "original")

	in = []byte("added")
	if _, err := a.Add(t.Context(), "added", in, 0); err != nil {
		t.Fatal(err)
	}
	copy(in, "ZZZZZ")
	WantValue(t, a, "added", "added")

	many := map[string][]byte{"m": []byte("many")}
	if err := cache.SetMany(t.Context(), a, many, 0); err != nil {
		t.Fatal(err)
	}
	copy(many["m"], "WWWW")
	hits, err := cache.GetMany(t.Context(), a, []string{"m"})
	if err != nil {
		t.Fatal(err)
	}
	copy(hits["m"], "VVVV")
	WantValue(t, a, "m", "many")
}

func zeroTTL(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "forever", "f", 0)
	wantAdd(t, a, "added-forever", "a", 0, true)
	h.expiring(t, func(x *Attempt) {
		x.Set(a, "short", "s")
		x.Expire()
		WantMiss(t, a, "short")
	})
	WantValue(t, a, "forever", "f")
	WantValue(t, a, "added-forever", "a")
}

func negativeTTL(t *testing.T, h *harness) {
	a := h.new(t)
	ctx := t.Context()
	set(t, a, "k", "kept", 0)
	wantErr(t, "Set with ttl -1s", a.Set(ctx, "k", []byte("new"), -time.Second), cache.ErrInvalidTTL)
	wantErr(t, "Set with ttl -1ns", a.Set(ctx, "fresh", []byte("new"), -1), cache.ErrInvalidTTL)
	added, err := a.Add(ctx, "fresh", []byte("new"), -time.Second)
	wantErr(t, "Add with ttl -1s", err, cache.ErrInvalidTTL)
	if added {
		t.Fatal("Add with a negative TTL reported true")
	}
	err = cache.SetMany(ctx, a, map[string][]byte{"k": []byte("new"), "fresh": []byte("new")}, -time.Second)
	wantErr(t, "SetMany with ttl -1s", err, cache.ErrInvalidTTL)
	WantValue(t, a, "k", "kept")
	WantMiss(t, a, "fresh")
}

func ttlExpires(t *testing.T, h *harness) {
	h.expiring(t, func(x *Attempt) {
		a := h.new(t)
		ctx := t.Context()
		x.Set(a, "get", "v-get")
		x.Live(CheckValue(ctx, a, "get", "v-get"))
		x.Set(a, "has", "v-has")
		x.Live(checkHas(ctx, a, "has", true))
		for _, k := range []string{"delete", "add", "many"} {
			x.Set(a, k, "v-"+k)
		}
		x.Set(a, "incr", "41")
		// Late in its TTL, an entry is still there: not expired early.
		x.Wait(x.TTL() * 3 / 4)
		x.Live(CheckValue(ctx, a, "get", "v-get"))
		x.Expire()
		WantMiss(t, a, "get")
		wantHas(t, a, "has", false)
		wantDelete(t, a, "delete", false)
		wantAdd(t, a, "add", "new", 0, true)
		WantValue(t, a, "add", "new")
		hits, err := cache.GetMany(ctx, a, []string{"many", "get"})
		if err != nil || len(hits) != 0 {
			t.Fatalf("GetMany of expired keys = %q, %v; want no hits", hits, err)
		}
		if _, ok := a.(cache.Incrementer); ok {
			wantIncrement(t, a, "incr", 1, 1) // an expired counter counts as 0
		}
	})
}

// tinyTries bounds how many entries TinyTTLRoundsUp writes to find a read
// that ends within the resolution.
const tinyTries = 10

func tinyTTL(t *testing.T, h *harness) {
	a := h.new(t)
	var keys []string
	var x *Attempt
	for _, ttl := range []time.Duration{time.Nanosecond, h.cfg.resolution / 2} {
		if ttl <= 0 {
			continue
		}
		// The TTL is what this rule is about, so it cannot grow as in
		// Expiring: instead entries are written and read back until a
		// read proves the entry was stored alive, by a hit or by a miss
		// within the resolution the TTL is rounded up to.
		judged := false
		for i := 0; i < tinyTries && !judged; i++ {
			key := fmt.Sprintf("tiny-%d-%d", ttl, i)
			keys = append(keys, key)
			x = &Attempt{t: t, ttl: ttl, resolution: h.cfg.resolution}
			x.Set(a, key, "v")
			got, err := a.Get(t.Context(), key)
			switch {
			case err == nil && string(got) != "v":
				t.Fatalf("Get(%q) = %q, want \"v\"", key, got)
			case err != nil && x.within():
				t.Fatalf("Set(%q, ttl %v) then Get within the %v resolution = %v; the TTL was not rounded up", key, ttl, h.cfg.resolution, err)
			}
			judged = err == nil || x.within()
		}
		if !judged {
			t.Logf("in %d tries no Get of an entry with TTL %v ended within the %v resolution: the backend is slower than its resolution, so whether the TTL was rounded up is not judged, only that it expires",
				tinyTries, ttl, h.cfg.resolution)
		}
	}
	// Never "no expiry": they are gone after the resolution.
	x.Expire()
	for _, k := range keys {
		WantMiss(t, a, k)
	}
}

func addAbsent(t *testing.T, h *harness) {
	a := h.new(t)
	wantAdd(t, a, "k", "first", 0, true)
	WantValue(t, a, "k", "first")
}

func addPresent(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "k", "kept", 0)
	wantAdd(t, a, "k", "other", 0, false)
	WantValue(t, a, "k", "kept")
	// The TTL of the present entry is not changed either.
	h.expiring(t, func(x *Attempt) {
		a := h.new(t)
		x.Set(a, "short", "kept")
		x.Live(checkAdd(t.Context(), a, "short", "other", 0, false))
		x.Expire()
		WantMiss(t, a, "short")
	})
}

func addExpired(t *testing.T, h *harness) {
	h.expiring(t, func(x *Attempt) {
		a := h.new(t)
		x.Set(a, "k", "old")
		x.Write(func() { wantAdd(t, a, "a", "old", x.TTL(), true) })
		x.Expire()
		wantAdd(t, a, "k", "new", 0, true)
		WantValue(t, a, "k", "new")
		wantAdd(t, a, "a", "new", 0, true)
		WantValue(t, a, "a", "new")
	})
}

func addConcurrent(t *testing.T, h *harness) {
	a := h.new(t)
	const n = 16
	for round := range 5 {
		key := fmt.Sprintf("race-%d", round)
		var wins atomic.Int32
		var winner atomic.Value
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				val := fmt.Sprintf("g%d", i)
				ok, err := a.Add(t.Context(), key, []byte(val), 0)
				if err != nil {
					t.Errorf("Add: %v", err)
					return
				}
				if ok {
					wins.Add(1)
					winner.Store(val)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d of %d concurrent Adds reported true, want exactly 1", round, wins.Load(), n)
		}
		WantValue(t, a, key, winner.Load().(string))
	}
}

func deleteRule(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "k", "v", 0)
	wantDelete(t, a, "k", true)
	WantMiss(t, a, "k")
	wantDelete(t, a, "k", false)
	wantDelete(t, a, "never-set", false)
	set(t, a, "k", "again", 0)
	WantValue(t, a, "k", "again")
}

func hasRule(t *testing.T, h *harness) {
	a := h.new(t)
	wantHas(t, a, "k", false)
	set(t, a, "k", "v", 0)
	wantHas(t, a, "k", true)
	wantHas(t, a, "k", true)
	WantValue(t, a, "k", "v")
}

// incrementer skips the counter rules for an adapter without the
// capability, after checking that the helper refuses to fake it.
func incrementer(t *testing.T, a cache.Adapter) {
	t.Helper()
	if _, ok := a.(cache.Incrementer); ok {
		return
	}
	set(t, a, "n", "1", 0)
	_, err := cache.Increment(t.Context(), a, "n", 1)
	wantErr(t, "cache.Increment without Incrementer", err, errors.ErrUnsupported)
	WantValue(t, a, "n", "1")
	t.Skipf("%T does not implement cache.Incrementer; cache.Increment correctly reports errors.ErrUnsupported", a)
}

func incrementMissing(t *testing.T, h *harness) {
	a := h.new(t)
	incrementer(t, a)
	wantIncrement(t, a, "up", 5, 5)
	WantValue(t, a, "up", "5")
	wantIncrement(t, a, "down", -7, -7)
	WantValue(t, a, "down", "-7")
	wantIncrement(t, a, "zero", 0, 0)
	WantValue(t, a, "zero", "0")
	h.expiring(t, func(x *Attempt) {
		x.Set(a, "short", "1")
		x.Expire()
		WantMiss(t, a, "short")
	})
	WantValue(t, a, "up", "5") // a created counter never expires
}

func incrementDecimal(t *testing.T, h *harness) {
	a := h.new(t)
	incrementer(t, a)
	set(t, a, "k", "10", 0)
	wantIncrement(t, a, "k", 5, 15)
	WantValue(t, a, "k", "15")
	for _, start := range []int64{0, 9, 99, 738, 1024000, 2000000, 5000000000000, -1, -10, -5000000000000,
		math.MaxInt64 - 1, math.MinInt64 + 1} {
		key := fmt.Sprintf("n%d", start)
		set(t, a, key, fmt.Sprint(start), 0)
		for _, delta := range []int64{1, -1, 0} {
			wantIncrement(t, a, key, delta, start+max(delta, 0))
		}
		WantValue(t, a, key, fmt.Sprint(start))
	}
	// Leading zeros are still decimal (Memcached's incr reads them so).
	set(t, a, "zeros", "007", 0)
	wantIncrement(t, a, "zeros", 1, 8)
	WantValue(t, a, "zeros", "8")
	// Crossing zero and large steps in both directions.
	wantIncrement(t, a, "n9", -20, -11)
	WantValue(t, a, "n9", "-11")
	wantIncrement(t, a, "n-10", 5000000000000, 4999999999990)
	WantValue(t, a, "n-10", "4999999999990")
}

func incrementKeepsTTL(t *testing.T, h *harness) {
	incrementer(t, h.new(t))
	h.expiring(t, func(x *Attempt) {
		a := h.new(t)
		ctx := t.Context()
		x.Set(a, "k", "1")
		// Halfway through the TTL, so that an Increment that gave the
		// entry a new TTL would keep it past the first one.
		x.Wait(x.TTL() / 2)
		x.Live(checkIncrement(ctx, a, "k", 1, 2))
		x.Live(CheckValue(ctx, a, "k", "2"))
		x.Expire()
		WantMiss(t, a, "k")
	})
}

func incrementNotInteger(t *testing.T, h *harness) {
	a := h.new(t)
	incrementer(t, a)
	for i, v := range []string{"abc", "1.5", "", "12abc", "0x10", "- 1", "9223372036854775808", "1e3"} {
		key := fmt.Sprintf("k%d", i)
		set(t, a, key, v, 0)
		_, err := cache.Increment(t.Context(), a, key, 1)
		wantErr(t, fmt.Sprintf("Increment of %q", v), err, cache.ErrNotInteger)
		WantValue(t, a, key, v)
	}
}

func incrementOverflow(t *testing.T, h *harness) {
	a := h.new(t)
	incrementer(t, a)
	set(t, a, "max", fmt.Sprint(int64(math.MaxInt64)), 0)
	_, err := cache.Increment(t.Context(), a, "max", 1)
	wantErr(t, "Increment(MaxInt64, 1)", err, cache.ErrOverflow)
	WantValue(t, a, "max", fmt.Sprint(int64(math.MaxInt64)))
	set(t, a, "min", fmt.Sprint(int64(math.MinInt64)), 0)
	_, err = cache.Increment(t.Context(), a, "min", -1)
	wantErr(t, "Increment(MinInt64, -1)", err, cache.ErrOverflow)
	WantValue(t, a, "min", fmt.Sprint(int64(math.MinInt64)))
	wantIncrement(t, a, "min", math.MaxInt64, -1)
}

func incrementConcurrent(t *testing.T, h *harness) {
	a := h.new(t)
	incrementer(t, a)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := cache.Increment(t.Context(), a, "n", 2); err != nil {
					t.Errorf("Increment: %v", err)
					return
				}
				if _, err := cache.Increment(t.Context(), a, "n", -1); err != nil {
					t.Errorf("Increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	WantValue(t, a, "n", fmt.Sprint(workers*each))
}

func getMany(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "a", "1", 0)
	set(t, a, "b", "", 0)
	h.expiring(t, func(x *Attempt) {
		x.Set(a, "short", "x")
		x.Expire()
	})
	hits, err := cache.GetMany(t.Context(), a, []string{"a", "b", "missing", "short", "a"})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(hits) != 2 || string(hits["a"]) != "1" || hits["b"] == nil || len(hits["b"]) != 0 {
		t.Fatalf("GetMany = %q, want a=1 and b=(empty) only", hits)
	}
	hits, err = cache.GetMany(t.Context(), a, nil)
	if err != nil || len(hits) != 0 {
		t.Fatalf("GetMany(no keys) = %q, %v; want no hits", hits, err)
	}
}

func setMany(t *testing.T, h *harness) {
	a := h.new(t)
	items := map[string][]byte{}
	for i := range 50 {
		items[fmt.Sprintf("k%d", i)] = []byte(fmt.Sprintf("v%d", i))
	}
	if err := cache.SetMany(t.Context(), a, items, 0); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if err := cache.SetMany(t.Context(), a, nil, 0); err != nil {
		t.Fatalf("SetMany(no items): %v", err)
	}
	for k, v := range items {
		WantValue(t, a, k, string(v))
	}
	h.expiring(t, func(x *Attempt) {
		a := h.new(t)
		ctx := t.Context()
		x.Write(func() {
			if err := cache.SetMany(ctx, a, map[string][]byte{"s1": []byte("x"), "s2": nil}, x.TTL()); err != nil {
				t.Fatalf("SetMany with TTL %v: %v", x.TTL(), err)
			}
		})
		x.Live(CheckValue(ctx, a, "s1", "x"))
		x.Live(CheckValue(ctx, a, "s2", ""))
		x.Expire()
		WantMiss(t, a, "s1")
		WantMiss(t, a, "s2")
	})
}

func deleteMany(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "a", "1", 0)
	set(t, a, "b", "2", 0)
	set(t, a, "keep", "4", 0)
	h.expiring(t, func(x *Attempt) {
		x.Set(a, "short", "3")
		x.Expire()
	})
	n, err := cache.DeleteMany(t.Context(), a, []string{"a", "b", "missing", "short"})
	if err != nil || n != 2 {
		t.Fatalf("DeleteMany = %d, %v; want 2, nil", n, err)
	}
	WantMiss(t, a, "a")
	WantMiss(t, a, "b")
	WantValue(t, a, "keep", "4")
	n, err = cache.DeleteMany(t.Context(), a, nil)
	if err != nil || n != 0 {
		t.Fatalf("DeleteMany(no keys) = %d, %v; want 0, nil", n, err)
	}
}

func clearRule(t *testing.T, h *harness) {
	if h.cfg.unscopedClear {
		clearUnsupported(t, h)
		return
	}
	a := h.new(t)
	for i := range 100 {
		set(t, a, fmt.Sprintf("k%d", i), "v", 0)
	}
	set(t, a, "short", "v", h.shortTTL())
	if err := a.Clear(t.Context()); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	for i := range 100 {
		wantHas(t, a, fmt.Sprintf("k%d", i), false)
	}
	WantMiss(t, a, "short")
	set(t, a, "after", "v", 0)
	WantValue(t, a, "after", "v")
	if err := a.Clear(t.Context()); err != nil {
		t.Fatalf("second Clear: %v", err)
	}
	WantMiss(t, a, "after")
}

// clearUnsupported checks an adapter declared WithoutClear: Clear refuses
// and removes nothing.
func clearUnsupported(t *testing.T, h *harness) {
	a := h.new(t)
	for i := range 10 {
		set(t, a, fmt.Sprintf("k%d", i), "v", 0)
	}
	wantErr(t, "Clear of an adapter declared WithoutClear", a.Clear(t.Context()), errors.ErrUnsupported)
	for i := range 10 {
		WantValue(t, a, fmt.Sprintf("k%d", i), "v")
	}
}

func clearLeavesOthers(t *testing.T, h *harness) {
	if h.cfg.unscopedClear {
		clearUnsupported(t, h)
		return
	}
	a, b := h.new(t), h.new(t)
	set(t, a, "shared-name", "a", 0)
	set(t, b, "shared-name", "b", 0)
	set(t, b, "only-b", "b", 0)
	if err := a.Clear(t.Context()); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	WantMiss(t, a, "shared-name")
	WantValue(t, b, "shared-name", "b")
	WantValue(t, b, "only-b", "b")
}

// OddKeys are keys that break naive adapters: file names, protocol
// delimiters, glob and LIKE patterns, and lengths past backend limits.
var OddKeys = []string{
	"", " ", "with space", "tab\there", "new\nline", "crlf\r\n", "nul\x00byte",
	"unicodé ключ 鍵 🔑", "\xff\xfe invalid utf-8", "../../etc/passwd", "/abs/path", `back\slash`,
	"a/b", "a:b", "*", "?", "[a-z]", "%", "_", "a%b_c", "{slot}", "{", "'quote\"", ";DROP TABLE x;--",
	strings.Repeat("k", 250), strings.Repeat("k", 251), strings.Repeat("long key ", 112)[:1000],
	"KEY", "key",
}

func oddKeys(t *testing.T, h *harness) {
	a := h.new(t)
	for i, k := range OddKeys {
		set(t, a, k, fmt.Sprintf("value %d", i), 0)
	}
	for i, k := range OddKeys {
		WantValue(t, a, k, fmt.Sprintf("value %d", i))
		wantHas(t, a, k, true)
	}
	hits, err := cache.GetMany(t.Context(), a, OddKeys)
	if err != nil || len(hits) != len(OddKeys) {
		t.Fatalf("GetMany(odd keys) = %d hits, %v; want %d", len(hits), err, len(OddKeys))
	}
	for i, k := range OddKeys {
		if string(hits[k]) != fmt.Sprintf("value %d", i) {
			t.Fatalf("GetMany: key %q = %q, want %q", clip(k), hits[k], fmt.Sprintf("value %d", i))
		}
	}
	for _, k := range OddKeys {
		wantDelete(t, a, k, true)
	}
	for _, k := range OddKeys {
		WantMiss(t, a, k)
	}
}

func largeValue(t *testing.T, h *harness) {
	a := h.new(t)
	size := 1 << 20
	if h.cfg.maxValueSize > 0 && h.cfg.maxValueSize < size {
		size = h.cfg.maxValueSize
	}
	big := make([]byte, size)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rnd.Uint32())
	}
	if err := a.Set(t.Context(), "big", big, 0); err != nil {
		t.Fatalf("Set of %d bytes: %v", size, err)
	}
	got, err := a.Get(t.Context(), "big")
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("Get of a %d-byte value: %d bytes back, equal=%v, err=%v", size, len(got), bytes.Equal(got, big), err)
	}
	if h.cfg.maxValueSize == 0 || h.cfg.maxValueSize >= 1<<20 {
		return
	}
	set(t, a, "kept", "old", 0)
	over := append(big, 0)
	wantErr(t, fmt.Sprintf("Set of %d bytes, over the %d limit", len(over), size), a.Set(t.Context(), "kept", over, 0), cache.ErrTooLarge)
	_, err = a.Add(t.Context(), "fresh", over, 0)
	wantErr(t, "Add over the limit", err, cache.ErrTooLarge)
	WantValue(t, a, "kept", "old")
	WantMiss(t, a, "fresh")
}

func concurrency(t *testing.T, h *harness) {
	a := h.new(t)
	const workers, ops, keys = 8, 150, 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range ops {
				key := fmt.Sprintf("k%d", rnd.IntN(keys))
				var err error
				switch rnd.IntN(8) {
				case 0, 1:
					err = a.Set(ctx, key, []byte(fmt.Sprintf("v:%d:%d", w, i)), 0)
				case 2:
					_, err = a.Add(ctx, key, []byte(fmt.Sprintf("v:%d:%d", w, i)), h.shortTTL()*10)
				case 3:
					_, err = a.Delete(ctx, key)
				case 4:
					_, err = a.Has(ctx, key)
				case 5:
					var hits map[string][]byte
					hits, err = cache.GetMany(ctx, a, []string{key, "k0"})
					for k, v := range hits {
						if !bytes.HasPrefix(v, []byte("v:")) {
							t.Errorf("GetMany(%q) = %q, a value nobody wrote", k, v)
						}
					}
				case 6:
					if _, ok := a.(cache.Incrementer); ok {
						_, err = cache.Increment(ctx, a, fmt.Sprintf("n%d", w%2), 1)
					}
				default:
					var v []byte
					v, err = a.Get(ctx, key)
					if err == nil && !bytes.HasPrefix(v, []byte("v:")) {
						t.Errorf("Get(%q) = %q, a value nobody wrote", key, v)
					}
					if errors.Is(err, cache.ErrNotFound) {
						err = nil
					}
				}
				if err != nil {
					t.Errorf("worker %d op %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func canceledContext(t *testing.T, h *harness) {
	a := h.new(t)
	set(t, a, "k", "v", 0)
	ctx := canceled()
	_, err := a.Get(ctx, "k")
	wantErr(t, "Get", err, context.Canceled)
	wantErr(t, "View", cache.View(ctx, a, "k", func([]byte) error { return nil }), context.Canceled)
	wantErr(t, "Set", a.Set(ctx, "fresh", []byte("v"), 0), context.Canceled)
	_, err = a.Add(ctx, "fresh", []byte("v"), 0)
	wantErr(t, "Add", err, context.Canceled)
	_, err = a.Delete(ctx, "k")
	wantErr(t, "Delete", err, context.Canceled)
	_, err = a.Has(ctx, "k")
	wantErr(t, "Has", err, context.Canceled)
	wantErr(t, "Clear", a.Clear(ctx), context.Canceled)
	_, err = cache.GetMany(ctx, a, []string{"k"})
	wantErr(t, "GetMany", err, context.Canceled)
	wantErr(t, "SetMany", cache.SetMany(ctx, a, map[string][]byte{"fresh": nil}, 0), context.Canceled)
	_, err = cache.DeleteMany(ctx, a, []string{"k"})
	wantErr(t, "DeleteMany", err, context.Canceled)
	if _, ok := a.(cache.Incrementer); ok {
		_, err = cache.Increment(ctx, a, "n", 1)
		wantErr(t, "Increment", err, context.Canceled)
		WantMiss(t, a, "n")
	}
	if s, ok := a.(cache.Sweeper); ok {
		_, err = s.DeleteExpired(ctx)
		wantErr(t, "DeleteExpired", err, context.Canceled)
	}
	deadline, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = a.Get(deadline, "k")
	wantErr(t, "Get past its deadline", err, context.DeadlineExceeded)
	// Nothing a cancelled call was asked to do happened.
	WantValue(t, a, "k", "v")
	WantMiss(t, a, "fresh")
}

func closed(t *testing.T, h *harness) {
	a := h.newAdapter(t)
	ctx := t.Context()
	set(t, a, "k", "v", 0)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := a.Get(ctx, "k")
	wantErr(t, "Get after Close", err, cache.ErrClosed)
	wantErr(t, "View after Close", cache.View(ctx, a, "k", func([]byte) error { return nil }), cache.ErrClosed)
	wantErr(t, "Set after Close", a.Set(ctx, "k", []byte("v"), 0), cache.ErrClosed)
	_, err = a.Add(ctx, "k2", []byte("v"), 0)
	wantErr(t, "Add after Close", err, cache.ErrClosed)
	_, err = a.Delete(ctx, "k")
	wantErr(t, "Delete after Close", err, cache.ErrClosed)
	_, err = a.Has(ctx, "k")
	wantErr(t, "Has after Close", err, cache.ErrClosed)
	wantErr(t, "Clear after Close", a.Clear(ctx), cache.ErrClosed)
	_, err = cache.GetMany(ctx, a, []string{"k"})
	wantErr(t, "GetMany after Close", err, cache.ErrClosed)
	wantErr(t, "SetMany after Close", cache.SetMany(ctx, a, map[string][]byte{"k": nil}, 0), cache.ErrClosed)
	_, err = cache.DeleteMany(ctx, a, []string{"k"})
	wantErr(t, "DeleteMany after Close", err, cache.ErrClosed)
	if _, ok := a.(cache.Incrementer); ok {
		_, err = cache.Increment(ctx, a, "n", 1)
		wantErr(t, "Increment after Close", err, cache.ErrClosed)
	}
	if s, ok := a.(cache.Sweeper); ok {
		_, err = s.DeleteExpired(ctx)
		wantErr(t, "DeleteExpired after Close", err, cache.ErrClosed)
	}
}

func deleteExpired(t *testing.T, h *harness) {
	a := h.new(t)
	s, ok := a.(cache.Sweeper)
	if !ok {
		t.Skipf("%T does not implement cache.Sweeper", a)
	}
	set(t, a, "keep", "v", 0)
	set(t, a, "keep-ttl", "v", time.Hour)
	h.expiring(t, func(x *Attempt) {
		for i := range 5 {
			x.Set(a, fmt.Sprintf("short%d", i), "v")
		}
		x.Expire()
	})
	n, err := s.DeleteExpired(t.Context())
	if err != nil || n != 5 {
		t.Fatalf("DeleteExpired = %d, %v; want 5, nil", n, err)
	}
	n, err = s.DeleteExpired(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
	WantValue(t, a, "keep", "v")
	WantValue(t, a, "keep-ttl", "v")
}
