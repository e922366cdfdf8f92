package rediscache_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// openURL opens base plus a unique prefix, and deletes the prefix's keys
// when the test ends.
func openURL(t *testing.T, base string) *rediscache.Cache {
	t.Helper()
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	rawURL := base + sep + "prefix=" + url.QueryEscape(uniquePrefix("%s:"))
	a := cachetest.Open(t, rawURL)
	t.Cleanup(func() {
		if b, err := cache.Open(context.Background(), rawURL); err == nil {
			b.Clear(context.Background())
			b.Close()
		}
	})
	c, ok := a.(*rediscache.Cache)
	if !ok {
		t.Fatalf("%s opened a %T", rawURL, a)
	}
	return c
}

// TestOpenConformance runs the contract on an adapter opened by URL for
// each topology.
func TestOpenConformance(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"standalone": func(t *testing.T) string { return "redis://" + standaloneAddr(t) + "/0" },
		"cluster": func(t *testing.T) string {
			return "redis+cluster://" + strings.Join(testenv.Addrs(t, envClusterAddrs, defClusterAddrs), ",")
		},
		"sentinel": func(t *testing.T) string {
			newSentinel(t, 0) // skip early without a master
			return "redis+sentinel://" + strings.Join(testenv.Addrs(t, envSentinelAddrs, defSentinelAddrs), ",") +
				"/0?master_name=" + url.QueryEscape(sentinelMaster())
		},
	}
	for name, base := range urls {
		t.Run(name, func(t *testing.T) {
			u := base(t)
			cachetest.Run(t, func(t *testing.T) cache.Adapter { return openURL(t, u) },
				cachetest.WithTTLResolution(rediscache.Resolution))
		})
	}
}

// Open makes the client the URL describes, with ContextTimeoutEnabled, and
// the adapter owns it: Close closes it.
func TestOpenOwnsItsClient(t *testing.T) {
	c := openURL(t, "redis://"+standaloneAddr(t)+"/3?pool_size=2")
	client, ok := rediscache.Client(c).(*redis.Client)
	if !ok {
		t.Fatalf("redis:// made a %T", rediscache.Client(c))
	}
	if o := client.Options(); o.DB != 3 || o.PoolSize != 2 || !o.ContextTimeoutEnabled {
		t.Errorf("client options: DB %d, PoolSize %d, ContextTimeoutEnabled %v", o.DB, o.PoolSize, o.ContextTimeoutEnabled)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(t.Context()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Ping on the client after Close: %v, want redis.ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenBadURLs(t *testing.T) {
	addr := standaloneAddr(t)
	cachetest.BadURLs(t, map[string]string{
		"redis://":                                 "want redis://host:port",
		"redis:" + addr:                            "want redis://host:port",
		"redis://h1:1,h2:2":                        "redis:// takes one host",
		"redis://" + addr + "/x":                   `invalid database number: "x"`,
		"redis://" + addr + "/?dial_timout=1s":     "unexpected option: dial_timout",
		"redis://" + addr + "/?unprefixed_clear=2": `unprefixed_clear="2": want true or false`,
		"redis+cluster://" + addr + "?addr=h:1":    "list hosts as host1:port,host2:port",
		"redis+sentinel://" + addr:                 "needs the master_name parameter",
	})
}

// A server that does not answer makes Open fail within its context, and
// the error does not show the password.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := cache.Open(ctx, "redis://user:s3cret@127.0.0.1:1/0")
	if err == nil || errors.Is(err, cache.ErrInvalidURL) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open of a closed port: %v; want a connection error without the password", err)
	}
	if !strings.Contains(err.Error(), "xxxxx:xxxxx@") {
		t.Errorf("error does not show the redacted URL: %v", err)
	}
}
