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
		// A cluster has only database 0.
		"redis+cluster://" + addr + "/5":            "a Redis Cluster has only database 0",
		"redis+cluster://" + addr + "/not-a-number": "a Redis Cluster has only database 0",
		// go-redis logs in only with a password: a user alone is dropped.
		"redis://s3cret@" + addr + "/0":                          "the user part has a user name but no password",
		"redis+cluster://s3cret:@" + addr:                        "the user part has a user name but no password",
		"redis+sentinel://s3cret@" + addr + "?master_name=m":     "the user part (the sentinels' login) has a user name but no password",
		"redis+sentinel://" + addr + "?master_name=m&username=u": "parameter username (the master's login) has a user name but no password",
		// A database in the path and in the db parameter: go-redis
		// would take the parameter.
		"redis://" + addr + "/3?db=1":                                               "database given twice",
		"redis+sentinel://" + addr + "/3?db=1&master_name=m":                        "database given twice",
		"redis+sentinel://" + addr + "?master_name=m&context_timeout_enabled=false": "context_timeout_enabled=false: rediscache needs the context's deadline",
		"redis://" + addr + "/0#s3cret":                                             "a fragment (#...) is not part of a redis URL",
		"redis+cluster://h1:1,,h2:2":                                                `host list "h1:1,,h2:2" has an empty entry`,
		"redis+cluster://h1:x,h2:2":                                                 "host h1:x: want a port number",
		"redis+cluster://,h2:2":                                                     `host list ",h2:2" has an empty entry`,
		"redis://" + addr + "/0?dial_timeout=1s&dial_timeout=2s":                    `parameter dial_timeout="1s,2s": want given once`,
	})
}

// A cluster URL may name database 0, the only one a cluster has.
func TestOpenClusterDatabaseZero(t *testing.T) {
	openURL(t, "redis+cluster://"+strings.Join(testenv.Addrs(t, envClusterAddrs, defClusterAddrs), ",")+"/0")
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
