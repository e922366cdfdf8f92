package memcachedcache

import (
	"errors"
	"math"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachelib-go/cachelib/cache"
)

// The 32-bit flags of every item this adapter writes hold two things:
//
//   - bit 31 (flagMarked): the value is stored after one markByte, which
//     Get removes. It is set for values that memcached's incr could read as
//     a number although they are not a counter that incr may change exactly
//     (see needsMark), so that incr refuses them;
//   - bits 0-30 (flagExpiry): when the item expires, in Unix seconds, or 0
//     for never. memcached does not report an item's remaining TTL, and a
//     rewrite by compare-and-swap (Increment) must keep it. Bit 31 suffices
//     until 2038, as does the int32 Expiration of gomemcache.
//
// memcached's incr keeps an item's flags, so counters it changes keep both.
const (
	flagMarked = 1 << 31
	flagExpiry = 1<<31 - 1
	markByte   = '!'
)

// Counters below rawLimit, in canonical form (digits, no leading zero), are
// stored raw, and Increment changes them with memcached's incr when delta is
// positive and below incrMaxDelta: their sum stays far below the int64
// limit, so incr is exact. A counter that reaches rawLimit is then marked
// (markLarge), sending it to compare-and-swap from then on. Overflowing
// int64 through incr would take 2^30 increments that each cross rawLimit
// before any of their markings lands, far more than the connections a
// memcached server accepts.
const (
	rawLimit     = 1 << 62
	incrMaxDelta = 1 << 32
)

// maxRelative is the longest exptime memcached takes as relative seconds;
// above it, an exptime is a Unix time.
const maxRelative = 30 * 24 * 60 * 60

// rawCounter reports whether v is a counter that incr may change: a
// canonical decimal below rawLimit.
func rawCounter(v []byte) bool {
	if len(v) == 0 || len(v) > 19 || len(v) > 1 && v[0] == '0' {
		return false
	}
	var n uint64 // 19 digits fit in a uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	return n < rawLimit
}

// needsMark reports whether v must be stored marked. memcached's incr
// parses a value with strtoull and accepts leading white space, a sign,
// digits up to 2^64-1 and anything after a white space ("+5", " 5", "5 x",
// "9223372036854775808"), where the contract wants ErrNotInteger; it also
// rewrites "007" as "8  ". Only values that start with such a character
// can be misread; of those, only raw counters stay unmarked.
func needsMark(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch c := v[0]; {
	case '0' <= c && c <= '9':
		return !rawCounter(v)
	case c == '+' || c == '-' || c == ' ' || '\t' <= c && c <= '\r':
		return true
	}
	return false
}

// encode returns the bytes and flags to store for value with the given
// expiry. An unmarked value is returned as is, not copied.
func encode(value []byte, exp uint32) ([]byte, uint32) {
	if !needsMark(value) {
		return value, exp
	}
	b := make([]byte, 1+len(value))
	b[0] = markByte
	copy(b[1:], value)
	return b, flagMarked | exp
}

var errCorrupt = errors.New("memcachedcache: item is marked but does not start with the marker; it was not written by this package")

// decode returns the value stored in it, which must be an item read from
// memcached (its Value is not shared with anyone).
func decode(it *memcache.Item) ([]byte, error) {
	if it.Flags&flagMarked == 0 {
		return it.Value, nil
	}
	if len(it.Value) == 0 || it.Value[0] != markByte {
		return nil, errCorrupt
	}
	return it.Value[1:], nil
}

// expiry returns the exptime to send for an entry written at now with ttl,
// and the expiry to record in its flags.
//
// memcached's clock ticks once a second, and an item with an exptime of n
// seconds expires at the n-th tick after it was written: after n-1 to n
// seconds. So n is the TTL rounded up to whole seconds plus one: an entry
// lives longer than its rounded TTL, and at most one second longer, and an
// exptime of 1 (gone at the next tick, possibly at once) is never sent.
func expiry(ttl time.Duration, now time.Time) (int32, uint32) {
	if ttl == 0 {
		return 0, 0
	}
	n := int64(cache.RoundTTL(ttl, time.Second)/time.Second) + 1
	abs := min(now.Unix()+n, math.MaxInt32)
	if n <= maxRelative {
		return int32(n), uint32(abs)
	}
	return int32(abs), uint32(abs)
}

// reexpiry returns the exptime that keeps, when an item is rewritten at
// now, the expiry recorded in its flags. The record is in whole seconds and
// memcached's tick has an unknown phase, so the rewritten item may expire up
// to two seconds later than the original would have; it never expires
// before the rounded TTL it was written with has passed.
func reexpiry(flags uint32, now time.Time) int32 {
	abs := int64(flags & flagExpiry)
	if abs == 0 {
		return 0
	}
	// The item was written at some t with abs = floor(t)+n, and expires
	// after t+n-1 > abs-1. An exptime of abs+1-floor(now) ends after
	// now+that-1 >= abs.
	rel := abs + 1 - now.Unix()
	if rel > maxRelative {
		return int32(abs)
	}
	return int32(max(rel, 1))
}
