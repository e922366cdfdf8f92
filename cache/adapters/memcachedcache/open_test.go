package memcachedcache_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memcachedcache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

// TestOpenConformance runs the contract on adapters opened by URL on two
// servers, each adapter with a prefix of its own.
func TestOpenConformance(t *testing.T) {
	// The timeouts are newClient's and newCache's, for the same reason.
	base := "memcached://" + strings.Join(servers(t, 2), ",") + "?io_timeout=5s&timeout=1m&prefix="
	cachetest.Run(t, func(t *testing.T) cache.Adapter { return cachetest.Open(t, base+unique("open")) }, conformanceOpts...)
}

// The parameters reach the adapter and its client; the adapter owns the
// client, and Close closes its connections.
func TestOpenOptions(t *testing.T) {
	addr := servers(t, 1)[0]
	fw := forward(t, addr)
	prefix := unique("open")
	a := cachetest.Open(t, "memcached://"+fw.addr+"?prefix="+prefix+"&io_timeout=750ms&timeout=8s&max_idle_conns=3&max_value_size=1KiB&generation_refresh=0")
	c, ok := a.(*memcachedcache.Cache)
	if !ok {
		t.Fatalf("memcached:// opened a %T", a)
	}
	client := memcachedcache.Client(c)
	if client.Timeout != 750*time.Millisecond || client.MaxIdleConns != 3 || memcachedcache.Timeout(c) != 8*time.Second {
		t.Errorf("client Timeout %v, MaxIdleConns %d, Cache timeout %v", client.Timeout, client.MaxIdleConns, memcachedcache.Timeout(c))
	}
	if err := c.Set(t.Context(), "k", make([]byte, 1025), 0); !errors.Is(err, cache.ErrTooLarge) {
		t.Errorf("Set of 1025 bytes with max_value_size=1KiB: %v", err)
	}

	// The prefix is the one a Cache made by New with WithPrefix uses.
	if err := c.Set(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	byNew := newCache(t, newClient(t, addr), memcachedcache.WithPrefix(prefix))
	if v, err := byNew.Get(t.Context(), "k"); err != nil || string(v) != "v" {
		t.Errorf("Get through WithPrefix(%q): %q, %v", prefix, v, err)
	}
	// generation_refresh=0 reads the generation on every call, so a Clear
	// by the other adapter shows at once.
	if err := byNew.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(t.Context(), "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get after another adapter's Clear with generation_refresh=0: %v", err)
	}

	if n := fw.open.Load(); n == 0 {
		t.Fatal("no connection through the forwarder before Close")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); fw.open.Load() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections of the opened client still open after Close", fw.open.Load())
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// forwarder relays TCP connections to a server and counts those open.
type forwarder struct {
	addr  string
	open  atomic.Int64
	mu    sync.Mutex
	conns []net.Conn
}

// forward starts a forwarder to upstream, stopped when the test ends. A
// connection counts as open until its client closes it.
func forward(t *testing.T, upstream string) *forwarder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fw := &forwarder{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		fw.mu.Lock()
		for _, c := range fw.conns {
			c.Close()
		}
		fw.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			fw.mu.Lock()
			fw.conns = append(fw.conns, down, up)
			fw.mu.Unlock()
			fw.open.Add(1)
			wg.Go(func() { io.Copy(down, up); down.Close() })
			wg.Go(func() {
				io.Copy(up, down) // returns when the client closes
				fw.open.Add(-1)
				up.Close()
			})
		}
	})
	return fw
}

func TestOpenBadURLs(t *testing.T) {
	cachetest.BadURLs(t, map[string]string{
		"memcached://":                         "want memcached://host:port",
		"memcached:///tmp/sock":                "want memcached://host:port",
		"memcached://h:1/path":                 "want memcached://host:port",
		"memcached://h:1?timeout=fast":         `timeout="fast": want a positive duration`,
		"memcached://h:1?timeout=0s":           `timeout="0s": want a positive duration`,
		"memcached://h:1?io_timeout=fast":      `io_timeout="fast": want a duration`,
		"memcached://h:1?max_idle_conns=0":     `max_idle_conns="0": want an integer of at least 1`,
		"memcached://h:1?max_value_size=-1":    `max_value_size="-1": want a positive size`,
		"memcached://h:1?prefix=a&prefix=b":    `prefix="a,b": want given once`,
		"memcached://h:1?generaton_refresh=1s": "unknown parameter generaton_refresh",
		"memcached://u:s3cret@h:1":             "a memcached URL takes no user or password: gomemcache speaks the text protocol, which has no login",
		"memcached://s3cret@h:1":               "a memcached URL takes no user or password",
		"memcached://h:1#s3cret":               "a fragment (#...) is not part of a memcached URL",
		"memcached://h1:1,,h2:2":               `host list "h1:1,,h2:2" has an empty entry`,
		"memcached://,h2:2":                    `host list ",h2:2" has an empty entry`,
		"memcached://h1:1,h1:1":                `host list "h1:1,h1:1" names h1:1 twice`,
		"memcached://h1:x,h2:1":                `host h1:x: want a port number`,
	})
}

// A server that does not answer makes Open fail by ctx's deadline.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cache.Open(ctx, "memcached://127.0.0.1:1")
	if err == nil || errors.Is(err, cache.ErrInvalidURL) || time.Since(start) > time.Second {
		t.Fatalf("Open of a closed port: %v after %v", err, time.Since(start))
	}
}
