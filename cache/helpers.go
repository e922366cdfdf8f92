package cache

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// The helpers below are for adapter authors, so that every adapter checks
// TTLs and parses counters the same way.

// CheckTTL returns an error matching ErrInvalidTTL when ttl is negative.
func CheckTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w (got %v)", ErrInvalidTTL, ttl)
	}
	return nil
}

// TTLLeft returns the time an entry that expires at exp has left, for an
// adapter's TTLGetter: 0 when exp is the zero time (no expiry); otherwise
// the time until exp rounded down to resolution, so that it does not exceed
// the TTL the entry was written with when exp was rounded up to the same
// resolution. In its last resolution of life an entry reports what is left
// unrounded, since it is still a hit for Get. ok is false once exp has
// passed: an entry that expired after the adapter read it is a miss, never
// a TTL of 0, which would mean "no expiry".
func TTLLeft(exp time.Time, resolution time.Duration) (left time.Duration, ok bool) {
	if exp.IsZero() {
		return 0, true
	}
	left = time.Until(exp)
	if left <= 0 {
		return 0, false
	}
	if rounded := left.Truncate(resolution); rounded > 0 {
		left = rounded
	}
	return left, true
}

// RoundTTL rounds a positive ttl up to a whole multiple of resolution, so a
// TTL shorter than what the backend can express never becomes 0 ("no
// expiry") or "already expired". A ttl of 0 stays 0.
func RoundTTL(ttl, resolution time.Duration) time.Duration {
	if ttl <= 0 || resolution <= 1 {
		return ttl
	}
	if r := ttl % resolution; r != 0 {
		if ttl > math.MaxInt64-resolution {
			return ttl - r
		}
		ttl += resolution - r
	}
	return ttl
}

// ParseInt parses a stored counter: an optional '-' then ASCII digits, within
// the int64 range. Anything else gives an error matching ErrNotInteger.
func ParseInt(b []byte) (int64, error) {
	ok := len(b) > 0 && len(b) <= 20
	for i, c := range b {
		if !('0' <= c && c <= '9' || c == '-' && i == 0 && len(b) > 1) {
			ok = false
			break
		}
	}
	if ok {
		if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return n, nil
		}
	}
	const show = 32
	if len(b) > show {
		return 0, fmt.Errorf("%w: %q...", ErrNotInteger, b[:show])
	}
	return 0, fmt.Errorf("%w: %q", ErrNotInteger, b)
}

// AddInt returns n + delta, or an error matching ErrOverflow when the sum is
// outside the int64 range.
func AddInt(n, delta int64) (int64, error) {
	sum := n + delta
	if (delta > 0 && sum < n) || (delta < 0 && sum > n) {
		return 0, fmt.Errorf("%w: %d + %d", ErrOverflow, n, delta)
	}
	return sum, nil
}

// FormatInt encodes a counter the way ParseInt reads it.
func FormatInt(n int64) []byte {
	return strconv.AppendInt(nil, n, 10)
}
