package memcachedcache_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memcachedcache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/testenv"
)

// The servers, as scripts/services.sh starts them.
const (
	addrsEnv     = "CACHELIB_MEMCACHED_ADDRS"
	defaultAddrs = "127.0.0.1:11311,127.0.0.1:11312"
)

// servers returns the test servers, skipping (or failing in CI) when they
// are not running or fewer than n are configured.
func servers(t testing.TB, n int) []string {
	t.Helper()
	addrs := testenv.Addrs(t, addrsEnv, defaultAddrs)
	if len(addrs) < n {
		testenv.Unavailable(t, "this test needs %d Memcached servers, %s lists %d", n, addrsEnv, len(addrs))
	}
	return addrs[:n]
}

// newClient returns a client of addrs on a Ring, closed when the test ends.
func newClient(t testing.TB, addrs ...string) *memcache.Client {
	t.Helper()
	ring, err := memcachedcache.NewRing(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	client := memcache.NewFromSelector(ring)
	// The suite runs its rules in parallel on one client, on a machine
	// that may be busy with other tests: gomemcache's 500 ms default
	// would turn a stall into a failure that says nothing about the
	// adapter.
	client.MaxIdleConns = 32
	client.Timeout = 5 * time.Second
	t.Cleanup(func() { client.Close() })
	return client
}

// suiteTimeout is the per-call timeout of the adapters the tests make,
// unless a test gives its own, for the reason newClient gives for its
// Timeout: longer than ten of those, it also keeps calls on the caller's
// goroutine, as the default does with the default Timeout.
const suiteTimeout = time.Minute

func newCache(t testing.TB, client *memcache.Client, opts ...memcachedcache.Option) *memcachedcache.Cache {
	t.Helper()
	c, err := memcachedcache.New(client, append([]memcachedcache.Option{memcachedcache.WithTimeout(suiteTimeout)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testRun tells this test process's names from those of earlier runs, whose
// generations are still on the servers.
var (
	testRun = strconv.FormatInt(time.Now().UnixNano(), 36)
	names   atomic.Int64
)

func unique(kind string) string {
	return fmt.Sprintf("test-%s-%s-%d", kind, testRun, names.Add(1))
}

var conformanceOpts = []cachetest.Option{
	cachetest.WithTTLResolution(memcachedcache.Resolution),
	cachetest.WithMaxValueSize(memcachedcache.DefaultMaxValueSize),
}

// TestConformance runs the contract on one server and on two behind a
// Ring, with and without a prefix. Without a prefix, every adapter uses the
// empty prefix and a generation of its own (WithGenerationName), which is
// what keeps the suite's parallel adapters apart: their keys are
// "|generation|key" with independent random generations.
func TestConformance(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("servers=%d/prefix", n), func(t *testing.T) {
			client := newClient(t, servers(t, n)...)
			cachetest.Run(t, func(t *testing.T) cache.Adapter {
				c, err := memcachedcache.New(client, memcachedcache.WithPrefix(unique("prefix")))
				if err != nil {
					t.Fatal(err)
				}
				return c
			}, conformanceOpts...)
		})
		t.Run(fmt.Sprintf("servers=%d/no-prefix", n), func(t *testing.T) {
			client := newClient(t, servers(t, n)...)
			cachetest.Run(t, func(t *testing.T) cache.Adapter {
				c, err := memcachedcache.New(client, memcachedcache.WithGenerationName(unique("gen")))
				if err != nil {
					t.Fatal(err)
				}
				return c
			}, conformanceOpts...)
		})
	}
}

func BenchmarkAdapter(b *testing.B) {
	client := newClient(b, servers(b, 1)...)
	cachetest.RunBenchmarks(b, func(b *testing.B) cache.Adapter {
		return newCache(b, client, memcachedcache.WithPrefix(unique("bench")))
	})
}

func mustSet(t *testing.T, c cache.Adapter, key, value string, ttl time.Duration) {
	t.Helper()
	if err := c.Set(t.Context(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// serverKey returns the item an adapter with prefix (stored as is) keeps
// key under, following the documented layout, reading the generation with
// the raw client.
func serverKey(t *testing.T, client *memcache.Client, prefix, key string) string {
	t.Helper()
	it, err := client.Get(prefix + "|gen")
	if err != nil {
		t.Fatalf("read the generation of %q: %v", prefix, err)
	}
	gen, err := strconv.ParseUint(string(it.Value), 10, 64)
	if err != nil {
		t.Fatalf("generation %q: %v", it.Value, err)
	}
	return prefix + "|" + strconv.FormatUint(gen, 36) + "|" + key
}

func encoded(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "#" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Keys are stored where the package documentation says, so other tools can
// find them: as is when memcached accepts them, encoded otherwise.
func TestKeyLayout(t *testing.T) {
	client := newClient(t, servers(t, 1)...)
	prefix := unique("layout")
	c := newCache(t, client, memcachedcache.WithPrefix(prefix))
	for _, key := range []string{"plain", "with space", "#mark", strings.Repeat("k", 240), ""} {
		mustSet(t, c, key, "v:"+key, 0)
	}
	for key, stored := range map[string]string{
		"plain":                  "plain",
		"":                       "",
		"with space":             encoded("with space"),
		"#mark":                  encoded("#mark"),
		strings.Repeat("k", 240): encoded(strings.Repeat("k", 240)), // too long after prefix and generation
	} {
		it, err := client.Get(serverKey(t, client, prefix, stored))
		if err != nil || string(it.Value) != "v:"+key {
			t.Errorf("key %.20q: raw item %q: %v; want the value stored there", key, stored, err)
		}
	}
}

// A raw key that is exactly the encoding of another key does not share its
// item, nor do keys of different prefixes that would concatenate alike.
func TestKeysNeverCollide(t *testing.T) {
	client := newClient(t, servers(t, 2)...)
	c := newCache(t, client, memcachedcache.WithPrefix(unique("collide")))
	keys := []string{"with space", encoded("with space"), strings.Repeat("x", 251), encoded(strings.Repeat("x", 251)), "#", "##"}
	for i, k := range keys {
		mustSet(t, c, k, strconv.Itoa(i), 0)
	}
	for i, k := range keys {
		cachetest.WantValue(t, c, k, strconv.Itoa(i))
	}

	base := unique("p")
	a := newCache(t, client, memcachedcache.WithPrefix(base))
	b := newCache(t, client, memcachedcache.WithPrefix(base+"|x"))
	mustSet(t, a, "x|k", "a", 0)
	mustSet(t, b, "k", "b", 0)
	cachetest.WantValue(t, a, "x|k", "a")
	cachetest.WantValue(t, b, "k", "b")
}

// Prefixes memcached cannot take as is still namespace and Clear.
func TestOddPrefixes(t *testing.T) {
	client := newClient(t, servers(t, 2)...)
	run := unique("odd")
	var caches []*memcachedcache.Cache
	for _, p := range []string{"with space " + run, "bar|" + run, "#" + run, strings.Repeat("p", 200) + run, "ключ\n" + run} {
		caches = append(caches, newCache(t, client, memcachedcache.WithPrefix(p)))
	}
	for i, c := range caches {
		mustSet(t, c, "k", strconv.Itoa(i), 0)
	}
	if err := caches[0].Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	cachetest.WantMiss(t, caches[0], "k")
	for i, c := range caches[1:] {
		cachetest.WantValue(t, c, "k", strconv.Itoa(i+1))
	}
}

// Clear on one prefix leaves other prefixes, and keys of other applications,
// alone; it never flushes a server.
func TestClearIsScoped(t *testing.T) {
	addrs := servers(t, 1)
	client := newClient(t, addrs...)
	a := newCache(t, client, memcachedcache.WithPrefix(unique("a")))
	b := newCache(t, client, memcachedcache.WithPrefix(unique("b")))
	foreign := unique("foreign")
	if err := client.Set(&memcache.Item{Key: foreign, Value: []byte("theirs")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*memcachedcache.Cache{a, b} {
		mustSet(t, c, "shared", "v", 0)
		mustSet(t, c, "ttl", "v", time.Hour)
	}
	if err := a.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	cachetest.WantMiss(t, a, "shared")
	cachetest.WantMiss(t, a, "ttl")
	cachetest.WantValue(t, b, "shared", "v")
	cachetest.WantValue(t, b, "ttl", "v")
	if it, err := client.Get(foreign); err != nil || string(it.Value) != "theirs" {
		t.Fatalf("foreign key after Clear: %v, %v", it, err)
	}
	// The cleared adapter works on, and clearing it again is harmless.
	mustSet(t, a, "shared", "new", 0)
	cachetest.WantValue(t, a, "shared", "new")
	if err := a.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	cachetest.WantMiss(t, a, "shared")
	cachetest.WantValue(t, b, "shared", "v")
}

// Another adapter of the same prefix (another process) sees a Clear within
// its refresh interval, or at once when it reads the generation every time.
// The generation the other adapter read lives, as an expiring entry would,
// for one interval from when it was read.
func TestClearVisibility(t *testing.T) {
	client := newClient(t, servers(t, 2)...)
	ctx := t.Context()
	cachetest.Expiring(t, time.Second, time.Millisecond, func(x *cachetest.Attempt) {
		prefix := unique("visible")
		clearer := newCache(t, client, memcachedcache.WithPrefix(prefix))
		cached := newCache(t, client, memcachedcache.WithPrefix(prefix), memcachedcache.WithGenerationRefresh(x.TTL()))
		exact := newCache(t, client, memcachedcache.WithPrefix(prefix), memcachedcache.WithGenerationRefresh(0))
		mustSet(t, clearer, "k", "v", 0)
		x.Write(func() { cachetest.WantValue(t, cached, "k", "v") }) // reads the generation now
		cachetest.WantValue(t, exact, "k", "v")

		if err := clearer.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		cachetest.WantMiss(t, clearer, "k")
		cachetest.WantMiss(t, exact, "k")
		// Within its interval, the other adapter still uses the old
		// generation...
		x.Live(cachetest.CheckValue(ctx, cached, "k", "v"))
		// ...and it sees the Clear once the interval is over.
		x.Expire()
		cachetest.WantMiss(t, cached, "k")
	})
}

// Adapters without a prefix or generation name share one namespace.
func TestNoPrefixShares(t *testing.T) {
	client := newClient(t, servers(t, 1)...)
	a := newCache(t, client)
	b := newCache(t, client, memcachedcache.WithGenerationRefresh(0))
	key := unique("key")
	mustSet(t, a, key, "v", time.Minute)
	cachetest.WantValue(t, b, key, "v")
	if err := b.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	cachetest.WantMiss(t, b, key)
}

// A generation lost to eviction or a restart clears the prefix: the new
// one is random and never brings old entries back.
func TestLostGeneration(t *testing.T) {
	client := newClient(t, servers(t, 1)...)
	prefix := unique("lost")
	c := newCache(t, client, memcachedcache.WithPrefix(prefix), memcachedcache.WithGenerationRefresh(0))
	mustSet(t, c, "k", "v", 0)
	if err := client.Delete(prefix + "|gen"); err != nil {
		t.Fatal(err)
	}
	cachetest.WantMiss(t, c, "k")
	mustSet(t, c, "k", "new", 0)
	cachetest.WantValue(t, c, "k", "new")
	// Clear with no generation stored creates one.
	if err := client.Delete(prefix + "|gen"); err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	cachetest.WantMiss(t, c, "k")
}

// The default limit holds with the longest server key and a value that
// needs the marker byte; one byte more is refused before it is sent, and a
// limit above the server's gets the server's refusal as ErrTooLarge.
func TestValueSizeLimits(t *testing.T) {
	client := newClient(t, servers(t, 1)...)
	prefix := unique("size")
	c := newCache(t, client, memcachedcache.WithPrefix(prefix))
	// 13 base-36 digits is the longest generation.
	key := strings.Repeat("k", 250-len(prefix)-2-13)
	big := bytes.Repeat([]byte("7 "), memcachedcache.DefaultMaxValueSize/2) // marked: "7 ..." could be read by incr
	if err := c.Set(t.Context(), key, big, 0); err != nil {
		t.Fatalf("Set of %d bytes under a %d-byte key: %v", len(big), len(key), err)
	}
	got, err := c.Get(t.Context(), key)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	err = c.Set(t.Context(), key, append(big, 'x'), 0)
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set over the limit: %v, want ErrTooLarge", err)
	}
	if got, _ := c.Get(t.Context(), key); !bytes.Equal(got, big) {
		t.Fatal("the previous value is gone after a refused Set")
	}

	lax := newCache(t, client, memcachedcache.WithPrefix(unique("lax")), memcachedcache.WithMaxValueSize(2<<20))
	err = lax.Set(t.Context(), "k", make([]byte, 3<<19), 0)
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set of 1.5 MiB past a 1 MiB server: %v, want ErrTooLarge", err)
	}
	t.Logf("server refusal: %v", err)
	_, err = lax.Add(t.Context(), "k2", make([]byte, 3<<19), 0)
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Add of 1.5 MiB past a 1 MiB server: %v, want ErrTooLarge", err)
	}
	mustSet(t, lax, "k", "small", 0) // the adapter works on
	cachetest.WantValue(t, lax, "k", "small")
}

// TTLs over 30 days are sent as Unix times: as relative seconds, memcached
// would read them as a date in 1970 and expire the entry at once.
func TestLongTTLs(t *testing.T) {
	client := newClient(t, servers(t, 1)...)
	c := newCache(t, client, memcachedcache.WithPrefix(unique("long")))
	const day = 24 * time.Hour
	for _, ttl := range []time.Duration{29 * day, 30 * day, 31 * day, 365 * day, 200 * 365 * day} {
		key := ttl.String()
		mustSet(t, c, key, "v", ttl)
		cachetest.WantValue(t, c, key, "v")
		if ok, err := c.Add(t.Context(), key+"-add", []byte("v"), ttl); !ok || err != nil {
			t.Fatalf("Add(ttl %v) = %v, %v", ttl, ok, err)
		}
		cachetest.WantValue(t, c, key+"-add", "v")
	}
}

// Values that memcached's incr would read as numbers, although the contract
// does not, are stored marked: Increment refuses them and they read back
// unchanged. Raw counters stay raw for incr.
func TestIncrementStrictness(t *testing.T) {
	client := newClient(t, servers(t, 1)...)
	prefix := unique("strict")
	c := newCache(t, client, memcachedcache.WithPrefix(prefix))
	for _, v := range []string{"+5", " 5", "5 ", "5 x", "\n5", "18446744073709551615", "-18446744073709551615"} {
		mustSet(t, c, v, v, 0)
		if n, err := c.Increment(t.Context(), v, 1); !errors.Is(err, cache.ErrNotInteger) {
			t.Errorf("Increment of %q = %d, %v; want ErrNotInteger", v, n, err)
		}
		cachetest.WantValue(t, c, v, v)
	}
	// Leading zeros are an integer to the contract; incr would leave "8  ".
	mustSet(t, c, "zeros", "007", 0)
	if n, err := c.Increment(t.Context(), "zeros", 1); n != 8 || err != nil {
		t.Fatalf("Increment of \"007\" = %d, %v; want 8", n, err)
	}
	cachetest.WantValue(t, c, "zeros", "8")

	// A raw counter is plain ASCII on the server, which incr changes in
	// place; the adapter reads what incr wrote.
	mustSet(t, c, "n", "10", 0)
	if n, err := c.Increment(t.Context(), "n", 5); n != 15 || err != nil {
		t.Fatalf("Increment = %d, %v; want 15", n, err)
	}
	sk := serverKey(t, client, prefix, "n")
	if it, err := client.Get(sk); err != nil || string(it.Value) != "15" {
		t.Fatalf("raw item = %v, %v; want \"15\"", it, err)
	}
	if n, err := client.Increment(sk, 3); n != 18 || err != nil {
		t.Fatalf("raw incr = %d, %v", n, err)
	}
	cachetest.WantValue(t, c, "n", "18")
}

// A counter that incr takes to 2^62 is marked at once, so incr (whose sum
// could otherwise pass the int64 limit) never touches it again.
func TestIncrementMarksLargeCounters(t *testing.T) {
	client := newClient(t, servers(t, 1)...)
	prefix := unique("large")
	c := newCache(t, client, memcachedcache.WithPrefix(prefix))
	const limit = 1 << 62
	mustSet(t, c, "n", strconv.Itoa(limit-1), 0)
	if n, err := c.Increment(t.Context(), "n", 1); n != limit || err != nil {
		t.Fatalf("Increment = %d, %v; want %d", n, err, limit)
	}
	it, err := client.Get(serverKey(t, client, prefix, "n"))
	if err != nil {
		t.Fatal(err)
	}
	if it.Flags&(1<<31) == 0 || string(it.Value) != "!"+strconv.Itoa(limit) {
		t.Fatalf("raw item after crossing 2^62: flags %#x, value %q; want it marked", it.Flags, it.Value)
	}
	cachetest.WantValue(t, c, "n", strconv.Itoa(limit))
	if n, err := c.Increment(t.Context(), "n", 1); n != limit+1 || err != nil {
		t.Fatalf("Increment = %d, %v; want %d", n, err, limit+1)
	}
}

// Increment through compare-and-swap (negative counters, negative deltas)
// keeps the entry's expiry, to within the documented two seconds.
func TestIncrementCASKeepsTTL(t *testing.T) {
	client := newClient(t, servers(t, 1)...)
	ctx := t.Context()
	cachetest.Expiring(t, time.Second, memcachedcache.Resolution, func(x *cachetest.Attempt) {
		c := newCache(t, client, memcachedcache.WithPrefix(unique("casttl")))
		x.Set(c, "neg", "-5")
		x.Set(c, "down", "5")
		if n, err := c.Increment(ctx, "neg", 2); n != -3 || err != nil {
			x.Live(fmt.Errorf("Increment = %d, %v; want -3", n, err))
		}
		if n, err := c.Increment(ctx, "down", -2); n != 3 || err != nil {
			x.Live(fmt.Errorf("Increment = %d, %v; want 3", n, err))
		}
		// Never before the TTL...
		x.Wait(x.TTL() * 9 / 10)
		x.Live(cachetest.CheckValue(ctx, c, "neg", "-3"))
		x.Live(cachetest.CheckValue(ctx, c, "down", "3"))
		// ...and gone two seconds at most after the first expiry.
		x.Expire()
		time.Sleep(2 * time.Second)
		cachetest.WantMiss(t, c, "neg")
		cachetest.WantMiss(t, c, "down")
	})
}
