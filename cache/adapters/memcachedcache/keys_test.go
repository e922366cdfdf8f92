package memcachedcache

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

func TestPart(t *testing.T) {
	long := strings.Repeat("k", 200)
	for _, tc := range []struct {
		in       string
		allowSep bool
		raw      bool
	}{
		{"plain", true, true},
		{"", true, true},
		{"ключ", true, true}, // UTF-8 is legal in memcached keys
		{"a|b", true, true},
		{"a|b", false, false},
		{long, true, true},
		{long + "k", true, false}, // over the limit of 200 below
		{"with space", true, false},
		{"tab\t", true, false},
		{"del\x7f", true, false},
		{"nul\x00", true, false},
		{"#starts-with-the-mark", true, false},
	} {
		got := part(tc.in, 200, tc.allowSep)
		if raw := got == tc.in; raw != tc.raw {
			t.Errorf("part(%q) = %q; stored as is: %v, want %v", tc.in, got, raw, tc.raw)
		}
		if !tc.raw && (len(got) != encodedLen || got[0] != hashMark || !legal(got, false)) {
			t.Errorf("part(%q) = %q: not a %d-byte legal encoding starting with %q", tc.in, got, encodedLen, hashMark)
		}
	}
}

// A key that looks exactly like the encoding of another key is itself
// encoded, so the two never share an item.
func TestPartLookalike(t *testing.T) {
	for _, k := range []string{"with space", strings.Repeat("x", 300), "new\nline"} {
		enc := part(k, maxKeyLen, true)
		if again := part(enc, maxKeyLen, true); again == enc {
			t.Fatalf("the raw key %q (the encoding of %q) is stored as %q, the same item as %q", enc, k, again, k)
		}
	}
}

// Every (prefix, generation, key) triple, and every generation item, gets a
// server key of its own that memcached accepts.
func TestServerKeysDistinct(t *testing.T) {
	alphabet := []string{"a", "b", "|", "#", " ", "1", "gen", "é"}
	rnd := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for range rnd.IntN(5) {
			b.WriteString(alphabet[rnd.IntN(len(alphabet))])
		}
		return b.String()
	}
	type owner struct {
		prefix string
		gen    uint64
		key    string
		isGen  bool
	}
	seen := map[string]owner{}
	claim := func(serverKey string, o owner) {
		t.Helper()
		if !legal(serverKey, true) || len(serverKey) > maxKeyLen {
			t.Fatalf("%+v: server key %q is not a legal memcached key", o, serverKey)
		}
		if prev, ok := seen[serverKey]; ok && prev != o {
			t.Fatalf("%+v and %+v share the server key %q", prev, o, serverKey)
		}
		seen[serverKey] = o
	}
	for range 20000 {
		prefix, key, name := word(), word(), word()
		gen := uint64(rnd.IntN(3)) * (math.MaxUint64 / 2)
		c, err := New(nonNilClient, WithPrefix(prefix), WithGenerationName(name))
		if err != nil {
			t.Fatal(err)
		}
		claim(c.key(c.newNamespace(gen), key), owner{prefix: prefix, gen: gen, key: key})
		claim(c.genKey, owner{prefix: prefix, key: name, isGen: true})
	}
}

// The longest prefix stored as is, the largest generation and the longest
// key stored as is make a key of exactly memcached's limit.
func TestLongestServerKey(t *testing.T) {
	prefix := strings.Repeat("p", maxPrefixLen)
	c, err := New(nonNilClient, WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("k", c.maxRawKey)
	sk := c.key(c.newNamespace(math.MaxUint64), key)
	if len(sk) != maxKeyLen || !strings.HasSuffix(sk, key) {
		t.Fatalf("server key of %d bytes, want %d ending in the raw key", len(sk), maxKeyLen)
	}
	if sk := c.key(c.newNamespace(math.MaxUint64), key+"k"); len(sk) > maxKeyLen {
		t.Fatalf("a key one byte longer gives a server key of %d bytes", len(sk))
	}
}

func TestNeedsMark(t *testing.T) {
	for v, want := range map[string]bool{
		"": false, "hello": false, "!x": false, "{\"a\":1}": false,
		"0": false, "15": false, "4611686018427387903": false, // rawLimit-1
		"4611686018427387904": true, "9223372036854775807": true, "9223372036854775808": true,
		"-5": true, "-0": true, "+5": true, " 5": true, "\t5": true, "5 ": true, "5 x": true,
		"007": true, "1.5": true, "12abc": true, "0x10": true,
	} {
		if got := needsMark([]byte(v)); got != want {
			t.Errorf("needsMark(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 400_000_000)
	const day = 24 * time.Hour
	for _, tc := range []struct {
		ttl     time.Duration
		exptime int32
		abs     int64
	}{
		{0, 0, 0},
		{time.Nanosecond, 2, 1_700_000_002},
		{time.Second, 2, 1_700_000_002},
		{1500 * time.Millisecond, 3, 1_700_000_003},
		{30*day - time.Second, 30 * 86400, 1_700_000_000 + 30*86400},
		{30 * day, 1_700_000_000 + 30*86400 + 1, 1_700_000_000 + 30*86400 + 1},
		{200 * 365 * day, math.MaxInt32, math.MaxInt32},
	} {
		exptime, abs := expiry(tc.ttl, now)
		if exptime != tc.exptime || int64(abs) != tc.abs {
			t.Errorf("expiry(%v) = %d, %d; want %d, %d", tc.ttl, exptime, abs, tc.exptime, tc.abs)
		}
	}
	for _, tc := range []struct {
		abs     uint32
		now     int64
		exptime int32
	}{
		{0, 1_700_000_000, 0},
		{1_700_000_010, 1_700_000_000, 11},
		{1_700_000_010, 1_700_000_010, 1},
		{1_700_000_010, 1_700_000_020, 1}, // already due: the next tick
		{1_800_000_000, 1_700_000_000, 1_800_000_000},
	} {
		if got := reexpiry(tc.abs, time.Unix(tc.now, 900_000_000)); got != tc.exptime {
			t.Errorf("reexpiry(%d) at %d = %d, want %d", tc.abs, tc.now, got, tc.exptime)
		}
	}
}

// nonNilClient is a client that these tests never use to talk to a server.
var nonNilClient = memcache.New("127.0.0.1:1")

func TestOptions(t *testing.T) {
	for name, o := range map[string]Option{
		"WithGenerationRefresh(-1)": WithGenerationRefresh(-1),
		"WithMaxValueSize(0)":       WithMaxValueSize(0),
	} {
		if _, err := New(nonNilClient, o); err == nil {
			t.Errorf("New accepted %s", name)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}
