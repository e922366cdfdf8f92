package dynamocache_test

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

// TestMain gives the SDK's default configuration, which cache.Open uses,
// the fake credentials of newClient: dynalite checks only that requests
// are signed. They are set here rather than with t.Setenv, which a test
// whose subtests run in parallel (cachetest's) cannot use.
func TestMain(m *testing.M) {
	os.Setenv("AWS_ACCESS_KEY_ID", "cachelib")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "cachelib")
	os.Exit(m.Run())
}

// openURL returns the URL of table on the test server, in us-east-1 like
// newClient, with the parameters kv (name, value, ...).
func openURL(t testing.TB, table string, kv ...string) string {
	t.Helper()
	q := url.Values{"region": {"us-east-1"}, "endpoint": {endpoint(t)}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return (&url.URL{Scheme: "dynamodb", Host: table, RawQuery: q.Encode()}).String()
}

// TestOpenConformance runs the contract on adapters opened by URL, each
// with a prefix of its own in one table.
func TestOpenConformance(t *testing.T) {
	table := newTable(t, newClient(endpoint(t)))
	cachetest.Run(t, func(t *testing.T) cache.Adapter {
		return cachetest.Open(t, openURL(t, table, "prefix", prefix()))
	}, cachetest.WithMaxValueSize(maxValue(prefixLen)))
}

// The URL's table, prefix, region and endpoint reach the adapter and its
// client, create_table=true creates the table, and after Close (which may
// be called again) the adapter refuses calls.
func TestOpenOptions(t *testing.T) {
	client := newClient(endpoint(t))
	table := unique("table")
	deleteAtEnd(t, client, table)
	a, err := cache.Open(t.Context(), openURL(t, table, "region", "eu-west-3", "prefix", "app:", "create_table", "true"))
	must(t, err)
	c, ok := a.(*dynamocache.Cache)
	if !ok {
		t.Fatalf("dynamodb:// opened a %T", a)
	}
	if o := dynamocache.Client(c).Options(); o.Region != "eu-west-3" || aws.ToString(o.BaseEndpoint) != endpoint(t) {
		t.Errorf("client of region %q, endpoint %q", o.Region, aws.ToString(o.BaseEndpoint))
	}
	ctx := t.Context()
	must(t, c.Set(ctx, "k", []byte("v"), 0))
	if it := rawItem(t, client, table, "app:k"); it == nil {
		t.Errorf("no item app:k in table %s", table)
	}
	must(t, c.Close())
	if _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Get after Close: %v, want cache.ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Without a region in the URL or the SDK's configuration, Open says where
// to give one.
func TestOpenNoRegion(t *testing.T) {
	for _, env := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} {
		t.Setenv(env, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	_, err := cache.Open(t.Context(), "dynamodb://cache")
	if want := "no region: give the region parameter or set AWS_REGION"; !errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), want) {
		t.Errorf("Open without a region: %v; want cache.ErrInvalidURL saying %q", err, want)
	}
}

// Every URL here fails before anything connects, with a message that names
// the problem and never shows the password.
func TestOpenBadURLs(t *testing.T) {
	cachetest.BadURLs(t, map[string]string{
		"dynamodb://":                                          "want dynamodb://table?region=...&endpoint=...",
		"dynamodb:cache":                                       "want dynamodb://table",
		"dynamodb://cache/sub":                                 "want dynamodb://table",
		"dynamodb://ab?region=us-east-1":                       `table name "ab": want 3 to 255 letters`,
		"dynamodb://key:s3cret@cache":                          "a dynamodb URL carries no credentials",
		"dynamodb://cache?endpoint=ftp://h":                    `endpoint="ftp://h": want an http(s) URL`,
		"dynamodb://cache?endpoint=127.0.0.1:8001":             "parameter endpoint is not a URL",
		"dynamodb://cache?regoin=us-east-1":                    "unknown parameter regoin (this scheme accepts parameters create_table, endpoint, prefix, region, timeout)",
		"dynamodb://cache?create_table=yes":                    `create_table="yes": want true or false`,
		"dynamodb://cache?timeout=soon":                        `timeout="soon": want a positive duration`,
		"dynamodb://cache?prefix=" + strings.Repeat("x", 2100): "prefix of 2100 bytes leaves no room",
		"dynamodb://s3cret@cache":                              "a dynamodb URL carries no credentials",
		"dynamodb://cache#s3cret":                              "a fragment (#...) is not part of a dynamodb URL",
		"dynamodb://cache?endpoint=http://u:s3cret@h:1":        "parameter endpoint: want an http(s) URL without a user part",
		"dynamodb://cache?endpoint=http://s3cret@h:1":          "parameter endpoint: want an http(s) URL without a user part",
		"dynamodb://cache?endpoint=http://h:1%23s3cret":        "parameter endpoint: want an http(s) URL without a user part, query or fragment",
		"dynamodb://cache?endpoint=http://h:1%3Fx%3D1":         "parameter endpoint: want an http(s) URL without a user part, query or fragment",
	})
}
