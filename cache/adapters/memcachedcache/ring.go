package memcachedcache

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"
)

// Ring is a memcache.ServerSelector with consistent hashing, laid out as
// libketama does for servers of equal weight: each server owns 160 points
// on a circle of 2^32, four from each of 40 MD5 digests of "address-i", and
// a key belongs to the server owning the first point at or after the first
// four bytes of the key's MD5 digest. Adding a server to n then moves only
// the keys the new server takes over, about 1/(n+1) of them; gomemcache's
// ServerList (CRC-32 modulo the number of servers) moves about n/(n+1).
//
// A Ring is immutable and safe for concurrent use; to change the servers,
// build a new Ring and a new client. Use it with memcache.NewFromSelector.
type Ring struct {
	addrs  []net.Addr
	points []point // sorted by hash
}

type point struct {
	hash   uint32
	server int
}

// digestsPerServer times four is the number of points per server.
const digestsPerServer = 40

var _ memcache.ServerSelector = (*Ring)(nil)

// NewRing returns a Ring of the given servers: "host:port" for TCP, or the
// path of a Unix socket (anything containing '/'). Each name is resolved
// once, now; its points depend on the name as given, so every client that
// lists the same names maps keys the same way.
func NewRing(servers ...string) (*Ring, error) {
	if len(servers) == 0 {
		return nil, errors.New("memcachedcache: a ring needs at least one server")
	}
	r := &Ring{points: make([]point, 0, len(servers)*digestsPerServer*4)}
	for i, s := range servers {
		if slices.Contains(servers[:i], s) {
			return nil, fmt.Errorf("memcachedcache: server %q is listed twice", s)
		}
		addr, err := resolve(s)
		if err != nil {
			return nil, fmt.Errorf("memcachedcache: server %q: %w", s, err)
		}
		r.addrs = append(r.addrs, addr)
		for d := range digestsPerServer {
			sum := md5.Sum([]byte(s + "-" + strconv.Itoa(d)))
			for h := range 4 {
				r.points = append(r.points, point{binary.LittleEndian.Uint32(sum[h*4:]), i})
			}
		}
	}
	// Equal hashes (rare) go to the server listed first, in every client.
	slices.SortFunc(r.points, func(a, b point) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.server, b.server))
	})
	return r, nil
}

func resolve(s string) (net.Addr, error) {
	if strings.Contains(s, "/") {
		a, err := net.ResolveUnixAddr("unix", s)
		if err != nil {
			return nil, err
		}
		return staticAddr{a.Network(), a.String()}, nil
	}
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		return nil, err
	}
	return staticAddr{a.Network(), a.String()}, nil
}

// staticAddr keeps an address's strings: gomemcache calls String on every
// operation, which would otherwise format a net.TCPAddr each time.
type staticAddr struct{ network, str string }

func (a staticAddr) Network() string { return a.network }
func (a staticAddr) String() string  { return a.str }

// PickServer returns the server that key belongs to.
func (r *Ring) PickServer(key string) (net.Addr, error) {
	if len(r.addrs) == 1 {
		return r.addrs[0], nil
	}
	sum := md5.Sum([]byte(key))
	h := binary.LittleEndian.Uint32(sum[:4])
	i, _ := slices.BinarySearchFunc(r.points, h, func(p point, h uint32) int { return cmp.Compare(p.hash, h) })
	if i == len(r.points) {
		i = 0
	}
	return r.addrs[r.points[i].server], nil
}

// Each calls f with every server, in the order given to NewRing, and stops
// at the first error, which it returns.
func (r *Ring) Each(f func(net.Addr) error) error {
	for _, a := range r.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}
