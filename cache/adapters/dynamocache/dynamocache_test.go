package dynamocache_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"github.com/cachelib-go/cachelib/session/sessiontest"
)

// The test server, found through this variable (the default is the
// dynalite that scripts/services.sh starts).
const (
	envEndpoint = "CACHELIB_DYNAMODB_ENDPOINT"
	defEndpoint = "http://127.0.0.1:8001"
)

// endpoint returns the server's URL after checking that it accepts
// connections.
func endpoint(t testing.TB) string {
	t.Helper()
	e := os.Getenv(envEndpoint)
	if e == "" {
		e = defEndpoint
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" {
		t.Fatalf("%s=%q is not an http(s) URL", envEndpoint, e)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		testenv.Unavailable(t, "DynamoDB at %s (%s) is not reachable: %v", e, envEndpoint, err)
	}
	conn.Close()
	return e
}

// newClient returns a client of the server at endpoint, with fake
// credentials (dynalite checks only that requests are signed).
func newClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("cachelib", "cachelib", ""),
	})
}

var (
	run   = rand.Uint32()
	names atomic.Int64
)

// unique returns a name no other test of any run uses.
func unique(kind string) string {
	return fmt.Sprintf("cachetest-%s-%08x-%d", kind, run, names.Add(1))
}

// prefix returns a unique key prefix; all of them have the same length,
// prefixLen.
func prefix() string { return fmt.Sprintf("p%08x-%06d:", run, names.Add(1)%1e6) }

var prefixLen = len(prefix())

// testLogger sends what the adapter logs to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newTable creates a table with WithCreateTable and deletes it when the
// test ends.
func newTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	table := unique("table")
	c, err := dynamocache.New(t.Context(), client, table, dynamocache.WithCreateTable(), dynamocache.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	deleteAtEnd(t, client, table)
	return table
}

// deleteAtEnd deletes table when the test ends.
func deleteAtEnd(t testing.TB, client *dynamodb.Client, table string) {
	t.Cleanup(func() {
		// t.Context() has ended by the time cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
			t.Errorf("delete table %s: %v", table, err)
		}
	})
}

func newCache(t testing.TB, client *dynamodb.Client, table string, opts ...dynamocache.Option) *dynamocache.Cache {
	t.Helper()
	c, err := dynamocache.New(t.Context(), client, table, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// maxValue is the largest value under the key "big" (which cachetest's
// LargeValue sets) behind a prefix of prefixLen bytes: what the suite must
// find round-trips, one byte more being cache.ErrTooLarge.
func maxValue(prefixLen int) int { return dynamocache.MaxValueSize(prefixLen + len("big")) }

func TestConformance(t *testing.T) {
	client := newClient(endpoint(t))
	t.Run("prefix", func(t *testing.T) {
		// Every adapter has its own prefix in one shared table.
		table := newTable(t, client)
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, client, table, dynamocache.WithPrefix(prefix()))
		}, cachetest.WithMaxValueSize(maxValue(prefixLen)))
	})
	t.Run("no-prefix", func(t *testing.T) {
		// The table is the namespace: each adapter gets its own.
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return newCache(t, client, newTable(t, client))
		}, cachetest.WithMaxValueSize(maxValue(0)))
	})
}

func TestSessions(t *testing.T) {
	client := newClient(endpoint(t))
	table := newTable(t, client)
	sessiontest.Run(t, func(t *testing.T) cache.Adapter {
		return newCache(t, client, table, dynamocache.WithPrefix(prefix()))
	})
}

func BenchmarkAdapter(b *testing.B) {
	client := newClient(endpoint(b))
	table := newTable(b, client)
	cachetest.RunBenchmarks(b, func(b *testing.B) cache.Adapter {
		return newCache(b, client, table, dynamocache.WithPrefix(prefix()))
	})
}
