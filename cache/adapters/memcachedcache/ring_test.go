package memcachedcache_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachelib-go/cachelib/cache/adapters/memcachedcache"
)

// pick returns the server of every key.
func pick(t *testing.T, s memcache.ServerSelector, keys []string) []string {
	t.Helper()
	servers := make([]string, len(keys))
	for i, k := range keys {
		addr, err := s.PickServer(k)
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = addr.String()
	}
	return servers
}

// Adding a third server to two moves only the keys the new server takes
// over, about a third; gomemcache's ServerList moves about two thirds.
func TestRingMovesFewKeys(t *testing.T) {
	two := []string{"10.0.0.1:11211", "10.0.0.2:11211"}
	three := append(two[:2:2], "10.0.0.3:11211")
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("session:%d", i)
	}

	ring2, err := memcachedcache.NewRing(two...)
	if err != nil {
		t.Fatal(err)
	}
	ring3, err := memcachedcache.NewRing(three...)
	if err != nil {
		t.Fatal(err)
	}
	var list2, list3 memcache.ServerList
	if err := list2.SetServers(two...); err != nil {
		t.Fatal(err)
	}
	if err := list3.SetServers(three...); err != nil {
		t.Fatal(err)
	}

	before, after := pick(t, ring2, keys), pick(t, ring3, keys)
	moved, share := 0, map[string]int{}
	for i := range keys {
		share[after[i]]++
		if before[i] != after[i] {
			moved++
			if after[i] != three[2] {
				t.Fatalf("key %q moved from %s to %s, not to the new server", keys[i], before[i], after[i])
			}
		}
	}
	ringMoved := float64(moved) / float64(len(keys))
	for _, s := range three {
		f := float64(share[s]) / float64(len(keys))
		t.Logf("%s holds %.1f%% of the keys on the ring of three", s, 100*f)
		if f < 0.27 || f > 0.40 {
			t.Errorf("server %s holds %.1f%% of the keys on the ring of three; want about a third", s, 100*f)
		}
	}

	before, after = pick(t, &list2, keys), pick(t, &list3, keys)
	moved = 0
	for i := range keys {
		if before[i] != after[i] {
			moved++
		}
	}
	listMoved := float64(moved) / float64(len(keys))
	t.Logf("keys moved from two servers to three: Ring %.1f%%, ServerList %.1f%%", 100*ringMoved, 100*listMoved)
	if ringMoved > 0.40 {
		t.Errorf("the Ring moved %.1f%% of the keys, want at most 40%%", 100*ringMoved)
	}
	if listMoved < 0.6 {
		t.Errorf("ServerList moved %.1f%% of the keys; the comparison expects about two thirds", 100*listMoved)
	}
}

func TestRingMapsLikeEveryClient(t *testing.T) {
	// The same names give the same ring, whatever their order.
	a, err := memcachedcache.NewRing("10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211")
	if err != nil {
		t.Fatal(err)
	}
	b, err := memcachedcache.NewRing("10.0.0.3:11211", "10.0.0.1:11211", "10.0.0.2:11211")
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	pa, pb := pick(t, a, keys), pick(t, b, keys)
	for i := range keys {
		if pa[i] != pb[i] {
			t.Fatalf("key %q: %s on one ring, %s on the same servers listed in another order", keys[i], pa[i], pb[i])
		}
	}
	var each []string
	if err := b.Each(func(addr net.Addr) error { each = append(each, addr.String()); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(each) != "[10.0.0.3:11211 10.0.0.1:11211 10.0.0.2:11211]" {
		t.Fatalf("Each visited %v", each)
	}
}

func TestNewRingErrors(t *testing.T) {
	for _, servers := range [][]string{nil, {"10.0.0.1:11211", "10.0.0.1:11211"}, {"no port"}} {
		if _, err := memcachedcache.NewRing(servers...); err == nil {
			t.Errorf("NewRing(%q) succeeded", servers)
		}
	}
}
