package cache_test

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

func TestParseInt(t *testing.T) {
	for _, s := range []string{"0", "9", "-1", "738", "5000000000000", "9223372036854775807", "-9223372036854775808"} {
		n, err := cache.ParseInt([]byte(s))
		if err != nil || strconv.FormatInt(n, 10) != s {
			t.Errorf("ParseInt(%q) = %d, %v", s, n, err)
		}
	}
	for _, s := range []string{"", "-", "+1", " 1", "1 ", "1.5", "abc", "0x10", "9223372036854775808",
		"-9223372036854775809", "1e3", "--1", "1-", "١"} {
		if n, err := cache.ParseInt([]byte(s)); !errors.Is(err, cache.ErrNotInteger) {
			t.Errorf("ParseInt(%q) = %d, %v; want ErrNotInteger", s, n, err)
		}
	}
}

func TestAddInt(t *testing.T) {
	cases := []struct {
		n, d, want int64
		overflow   bool
	}{
		{10, 5, 15, false}, {-5, 5, 0, false}, {math.MaxInt64, 0, math.MaxInt64, false},
		{math.MaxInt64, 1, 0, true}, {math.MinInt64, -1, 0, true}, {math.MinInt64, math.MaxInt64, -1, false},
		{math.MaxInt64, math.MinInt64, -1, false}, {1, math.MaxInt64, 0, true},
	}
	for _, c := range cases {
		got, err := cache.AddInt(c.n, c.d)
		if c.overflow != errors.Is(err, cache.ErrOverflow) || (!c.overflow && got != c.want) {
			t.Errorf("AddInt(%d, %d) = %d, %v", c.n, c.d, got, err)
		}
	}
	if s := string(cache.FormatInt(-42)); s != "-42" {
		t.Errorf("FormatInt(-42) = %q", s)
	}
}

func TestTTLLeft(t *testing.T) {
	if left, ok := cache.TTLLeft(time.Time{}, time.Millisecond); left != 0 || !ok {
		t.Errorf("TTLLeft(no expiry) = %v, %v; want 0, true", left, ok)
	}
	left, ok := cache.TTLLeft(time.Now().Add(1500*time.Millisecond), time.Second)
	if left != time.Second || !ok {
		t.Errorf("TTLLeft(1.5 s ahead, 1 s) = %v, %v; want 1s, true: rounded down", left, ok)
	}
	left, ok = cache.TTLLeft(time.Now().Add(time.Hour), time.Millisecond)
	if left <= 59*time.Minute || left > time.Hour || left%time.Millisecond != 0 || !ok {
		t.Errorf("TTLLeft(1 h ahead, 1 ms) = %v, %v", left, ok)
	}
	// The last millisecond of a live entry: still a hit, with what is left.
	left, ok = cache.TTLLeft(time.Now().Add(500*time.Microsecond), time.Millisecond)
	if left <= 0 || left > 500*time.Microsecond || !ok {
		t.Errorf("TTLLeft(0.5 ms ahead, 1 ms) = %v, %v; want (0, 0.5ms], true", left, ok)
	}
	for _, exp := range []time.Time{time.Now(), time.Now().Add(-time.Hour)} {
		if left, ok := cache.TTLLeft(exp, time.Millisecond); ok {
			t.Errorf("TTLLeft(%v from now) = %v, true; want a miss", time.Until(exp), left)
		}
	}
}

func TestRoundTTL(t *testing.T) {
	cases := []struct{ ttl, res, want time.Duration }{
		{0, time.Second, 0},
		{time.Nanosecond, time.Second, time.Second},
		{1500 * time.Millisecond, time.Second, 2 * time.Second},
		{2 * time.Second, time.Second, 2 * time.Second},
		{time.Nanosecond, time.Millisecond, time.Millisecond},
		{5, 0, 5},
		{math.MaxInt64, time.Second, math.MaxInt64 - math.MaxInt64%time.Second},
	}
	for _, c := range cases {
		if got := cache.RoundTTL(c.ttl, c.res); got != c.want {
			t.Errorf("RoundTTL(%v, %v) = %v, want %v", c.ttl, c.res, got, c.want)
		}
	}
	if err := cache.CheckTTL(-1); !errors.Is(err, cache.ErrInvalidTTL) {
		t.Errorf("CheckTTL(-1) = %v", err)
	}
	if err := cache.CheckTTL(0); err != nil {
		t.Errorf("CheckTTL(0) = %v", err)
	}
}
