package rediscache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/urlparam"
	"github.com/redis/go-redis/v9"
)

// Importing the package registers these schemes with cache.Open ("rediss"
// in place of "redis" for TLS):
//
//	redis://[user:password@]host:port[/db][?prefix=app:]
//	redis+cluster://[user:password@]host1:7000,host2:7001[/0][?prefix=app:]
//	redis+sentinel://[user:password@]host1:26379,host2:26379[/db]?master_name=mymaster[&prefix=app:]
//
// Three parameters belong to this package: prefix is WithPrefix,
// unprefixed_clear=true is WithUnprefixedClear, and timeout (such as 500ms)
// is WithTimeout. Every other parameter is
// go-redis's own (redis.ParseURL, redis.ParseClusterURL and
// redis.ParseFailoverURL list them: dial_timeout, pool_size, ...), so an
// unknown one is an error. A host list names every node a cluster client
// starts from, or every sentinel; for Sentinel, user and password are the
// sentinel's, and the master's go in the username and password parameters.
// What go-redis would ignore is an error: a user name without a password
// (it logs in only with a password), a database other than 0 for a
// cluster, a database both in the path and in the db parameter, an empty
// or repeated entry in a host list, and a fragment. The client is created
// with ContextTimeoutEnabled (so context_timeout_enabled=false is refused),
// and Open checks that the server answers a PING within ctx. Close closes
// the client.
func init() {
	for _, tls := range []string{"", "s"} {
		cache.Register("redis"+tls, open(parseSingle))
		cache.Register("redis"+tls+"+cluster", open(parseCluster))
		cache.Register("redis"+tls+"+sentinel", open(parseSentinel))
	}
}

// A parser makes a go-redis client from the URL as go-redis reads it: a
// "redis" or "rediss" scheme, one host, and the extra hosts as addr
// parameters.
type parser func(goRedisURL string) (redis.UniversalClient, error)

func parseSingle(s string) (redis.UniversalClient, error) {
	o, err := redis.ParseURL(s)
	if err != nil {
		return nil, err
	}
	if err := checkLogin("the user part", o.Username, o.Password); err != nil {
		return nil, err
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClient(o), nil
}

func parseCluster(s string) (redis.UniversalClient, error) {
	o, err := redis.ParseClusterURL(s)
	if err != nil {
		return nil, err
	}
	if err := checkLogin("the user part", o.Username, o.Password); err != nil {
		return nil, err
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClusterClient(o), nil
}

func parseSentinel(s string) (redis.UniversalClient, error) {
	o, err := redis.ParseFailoverURL(s)
	if err != nil {
		return nil, err
	}
	if o.MasterName == "" {
		return nil, urlparam.Errorf("a Sentinel URL needs the master_name parameter")
	}
	if err := checkLogin("the user part (the sentinels' login)", o.SentinelUsername, o.SentinelPassword); err != nil {
		return nil, err
	}
	if err := checkLogin("parameter username (the master's login)", o.Username, o.Password); err != nil {
		return nil, err
	}
	o.ContextTimeoutEnabled = true
	return redis.NewFailoverClient(o), nil
}

// checkLogin refuses a user name without a password, which go-redis would
// drop without a word: it logs in (HELLO or AUTH) only with a password.
func checkLogin(what, user, password string) error {
	if user != "" && password == "" {
		return urlparam.Errorf("%s has a user name but no password, which go-redis would ignore: give user:password, or :password for the default user", what)
	}
	return nil
}

func open(parse parser) cache.OpenFunc {
	return func(ctx context.Context, u *url.URL) (cache.Adapter, error) {
		p := urlparam.New(u)
		var opts []Option
		if prefix := p.String("prefix", ""); prefix != "" {
			opts = append(opts, WithPrefix(prefix))
		}
		if p.Bool("unprefixed_clear", false) {
			opts = append(opts, WithUnprefixedClear())
		}
		opts = append(opts, WithTimeout(p.Timeout(calltimeout.Default)))
		if err := p.Single(); err != nil {
			return nil, err
		}
		if u.Opaque != "" || u.Host == "" {
			return nil, urlparam.Errorf("want %s://host:port", u.Scheme)
		}
		// go-redis knows the schemes redis and rediss and takes one host;
		// further hosts are its addr parameters.
		gu := *u
		scheme, topology, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
		gu.Scheme = scheme
		hosts, err := urlparam.Hosts(u)
		if err != nil {
			return nil, err
		}
		if len(hosts) > 1 && topology == "" {
			return nil, urlparam.Errorf("%s:// takes one host; a list of hosts is for %s+cluster:// or %s+sentinel://", u.Scheme, u.Scheme, u.Scheme)
		}
		for _, h := range hosts {
			// go-redis adds port 6379 to a host without one, and would
			// dial whatever else it is given.
			if _, _, err := net.SplitHostPort(h); err != nil && strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
				return nil, urlparam.Errorf("host %q: %v", h, err.(*net.AddrError).Err)
			}
		}
		rest := p.Unread()
		if _, ok := rest["addr"]; ok {
			return nil, urlparam.Errorf("list hosts as host1:port,host2:port rather than in addr parameters")
		}
		db := strings.Trim(u.Path, "/")
		switch {
		case topology == "cluster" && db != "" && db != "0":
			// go-redis reads no database from a cluster URL.
			return nil, urlparam.Errorf("a Redis Cluster has only database 0: want %s://host1:port,host2:port or .../0", u.Scheme)
		case db != "" && rest.Has("db"):
			// go-redis would take the parameter and drop the path.
			return nil, urlparam.Errorf("database given twice, in the path and in the db parameter")
		}
		if v := rest.Get("context_timeout_enabled"); v != "" {
			// go-redis reads it for Sentinel only; the adapter sets it.
			if on, err := strconv.ParseBool(v); err == nil && !on {
				return nil, urlparam.Errorf("context_timeout_enabled=false: rediscache needs the context's deadline to bound each command")
			}
		}
		for _, h := range hosts[1:] {
			rest.Add("addr", h)
		}
		gu.Host, gu.RawQuery = hosts[0], rest.Encode()
		client, err := parse(gu.String())
		switch {
		case errors.Is(err, cache.ErrInvalidURL):
			return nil, err
		case err != nil:
			// go-redis reports the unknown parameters and bad values
			// of a URL it cannot read.
			return nil, fmt.Errorf("%w: %w (rediscache reads prefix, unprefixed_clear and timeout; go-redis reads the other parameters)", cache.ErrInvalidURL, err)
		}
		c, err := New(client, opts...)
		if err != nil {
			client.Close()
			return nil, err
		}
		c.ownsClient = true
		pctx, cancel := calltimeout.Bound(ctx, c.timeout)
		defer cancel()
		if err := client.Ping(pctx).Err(); err != nil {
			client.Close()
			return nil, fmt.Errorf("rediscache: PING: %w", err)
		}
		return c, nil
	}
}
