package rediscache

import (
	"slices"
	"testing"
)

// The expected slots are what CLUSTER KEYSLOT answers on Redis 7.0.
func TestSlot(t *testing.T) {
	for key, want := range map[string]uint16{
		"123456789":            12739, // the CRC16/XMODEM check value 0x31C3, mod 16384
		"foo":                  12182,
		"{user1000}.following": 3443,
		"user1000":             3443,
		"":                     0,
		"{":                    4092,
		"{}x":                  10595, // an empty tag does not count: the whole key is hashed
		"a{b}c":                3300,
		"{slot}":               4772,
		"unicodé ключ 鍵 🔑":     15854,
	} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestGroupKeys(t *testing.T) {
	keys := []string{"{a}1", "b", "{a}2", "x{b}", "{}b"}
	if got := groupKeys(single, keys); len(got) != 1 || !slices.Equal(got[0], keys) {
		t.Errorf("single: %q, want one group of every key", got)
	}
	want := [][]string{{"{a}1", "{a}2"}, {"b", "x{b}"}, {"{}b"}}
	if got := groupKeys(ring, keys); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("ring: %q, want %q", got, want)
	}
	for _, g := range groupKeys(cluster, keys) {
		for _, k := range g {
			if slot(k) != slot(g[0]) {
				t.Errorf("cluster group %q mixes slots", g)
			}
		}
	}
}
