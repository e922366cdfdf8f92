package dynamocache_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// Faults between the adapter and a real server, injected by a proxy: every
// call ends with an error by its context's deadline, or by the adapter's
// own timeout for a context without one, although the SDK retries (four
// attempts, with backoffs of up to 20 s); no write is applied twice or
// reports a wrong result when its reply is lost; and the adapter works
// again once the network does.
func TestFaults(t *testing.T) {
	direct := newClient(endpoint(t))
	table := newTable(t, direct)
	u, _ := url.Parse(endpoint(t))
	proxy := faultproxy.Start(t, u.Host)
	client := newClient("http://" + proxy.Addr())
	probe := newCache(t, client, table, dynamocache.WithPrefix(prefix()))
	deadline := proxy.Deadline(300*time.Millisecond, func(ctx context.Context) error { return probe.Set(ctx, "probe", nil, 0) })
	c := newCache(t, client, table, dynamocache.WithPrefix(prefix()), dynamocache.WithTimeout(deadline))

	cachetest.RunFaults(t, c, proxy, deadline)
}

// watched sends a client's requests, telling reqs the operation of each
// and those that fail, and calls after, when set, with the error of each.
type watched struct {
	next  aws.HTTPClient
	reqs  *faultproxy.Requests
	after func(error)
}

func (w *watched) Do(req *http.Request) (*http.Response, error) {
	// X-Amz-Target is "DynamoDB_20120810.PutItem".
	_, op, _ := strings.Cut(req.Header.Get("X-Amz-Target"), ".")
	w.reqs.Sending(op)
	resp, err := w.next.Do(req)
	if err != nil {
		w.reqs.Failed(op)
	}
	if w.after != nil {
		w.after(err)
	}
	return resp, err
}

// watchedCache returns a Cache on a table of its own, whose client talks
// to the server through a proxy and reports its requests to the returned
// client.
func watchedCache(t *testing.T) (*dynamocache.Cache, *watched, *faultproxy.Proxy) {
	t.Helper()
	table := newTable(t, newClient(endpoint(t)))
	u, _ := url.Parse(endpoint(t))
	proxy := faultproxy.Start(t, u.Host)
	// A connection of its own for each request: a fault then meets the
	// request it is meant for, never a connection left idle by an
	// earlier one that Cut closed.
	noReuse := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.DisableKeepAlives = true })
	w := &watched{next: noReuse, reqs: proxy.Requests()}
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + proxy.Addr()),
		Credentials:  credentials.NewStaticCredentialsProvider("cachelib", "cachelib", ""),
		HTTPClient:   w,
	})
	return newCache(t, client, table, dynamocache.WithPrefix(prefix())), w, proxy
}

// A write whose request reached the service but whose reply was lost,
// made through a path that RunFaults cannot single out (it loses the reply
// to a call's first request), is never sent again if a second application
// would change its outcome: it returns an error matching
// cache.ErrUncertain, and its key holds the value from before or after one
// application. Set, which may be sent again, succeeds. Before the fix the
// SDK sent UpdateItem ADD again: Increment(+1) of 100 gave 102.
func TestLostReplies(t *testing.T) {
	c, w, proxy := watchedCache(t)
	const missing = "<miss>"
	for _, tc := range []struct {
		name          string
		before        string // the key's value, or missing
		counter       bool   // before is stored by Increment, not Set
		op            string // the operation whose n-th request loses its reply
		n             int
		call          func(ctx context.Context) (any, error)
		after         string // the key's value after one application
		want          any    // the call's result when it reports success
		resent        bool   // the write may be sent again (Set)
		wantUncertain bool
	}{
		{"Increment/ADD", "100", true, "UpdateItem", 1, func(ctx context.Context) (any, error) {
			return c.Increment(ctx, "k", 1)
		}, "101", int64(101), false, true},
		{"Increment/to-counter", "100", false, "UpdateItem", 2, func(ctx context.Context) (any, error) {
			return c.Increment(ctx, "k", 1)
		}, "101", int64(101), false, true},
		{"Increment/new-counter", missing, false, "PutItem", 1, func(ctx context.Context) (any, error) {
			return c.Increment(ctx, "k", 1)
		}, "1", int64(1), false, true},
		{"Add", missing, false, "PutItem", 1, func(ctx context.Context) (any, error) {
			return c.Add(ctx, "k", []byte("new"), 0)
		}, "new", true, false, true},
		{"Delete", "old", false, "DeleteItem", 1, func(ctx context.Context) (any, error) {
			return c.Delete(ctx, "k")
		}, missing, true, false, true},
		{"Set", "old", false, "PutItem", 1, func(ctx context.Context) (any, error) {
			return nil, c.Set(ctx, "k", []byte("new"), 0)
		}, "new", nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			switch {
			case tc.before == missing:
				_, err := c.Delete(ctx, "k")
				must(t, err)
			case tc.counter:
				must(t, c.Set(ctx, "k", []byte("0"), 0))
				_, err := c.Increment(ctx, "k", 100)
				must(t, err)
			default:
				must(t, c.Set(ctx, "k", []byte(tc.before), 0))
			}
			w.reqs.LoseReplyTo(tc.op, tc.n)
			got, err := tc.call(ctx)
			count := w.reqs.Count(tc.op)
			sent := count.Sent
			proxy.Restore()
			if count.Failed != 1 {
				t.Fatalf("the reply to %s request %d was not lost (%+v): %v, %v", tc.op, tc.n, count, got, err)
			}
			state := missing
			if v, gerr := c.Get(ctx, "k"); gerr == nil {
				state = string(v)
			} else if !errors.Is(gerr, cache.ErrNotFound) {
				t.Fatal(gerr)
			}
			t.Logf("%s request %d lost its reply; the call sent %d and reported %v, %v; the key holds %q", tc.op, tc.n, sent, got, err, state)
			switch {
			case tc.wantUncertain && !errors.Is(err, cache.ErrUncertain):
				t.Errorf("reported %v, %v; want an error matching cache.ErrUncertain", got, err)
			case !tc.wantUncertain && (err != nil || got != tc.want):
				t.Errorf("reported %v, %v; want %v, nil", got, err, tc.want)
			}
			if state != tc.before && state != tc.after {
				t.Errorf("the key holds %q: want %q or %q (applied at most once)", state, tc.before, tc.after)
			}
			if !tc.resent && sent != tc.n {
				t.Errorf("%d %s requests, want %d: the one whose reply was lost was sent again", sent, tc.op, tc.n)
			}
			if tc.resent && (sent <= tc.n || state != tc.after) {
				t.Errorf("%d %s requests and the key holds %q: want it sent again and applied", sent, tc.op, state)
			}
		})
	}
}

// A write that must not be sent twice is still retried when its first
// attempt could not connect, which proves the service never saw it.
func TestRetryAfterDialError(t *testing.T) {
	c, w, proxy := watchedCache(t)
	w.reqs.LoseReplyTo("", 0) // counts from here
	var refused error
	w.after = func(err error) {
		if err != nil && refused == nil {
			refused = err
			proxy.Restore()
		}
	}
	proxy.Cut()
	ok, err := c.Add(t.Context(), "k", []byte("v"), 0)
	sent := w.reqs.Count("PutItem").Sent
	t.Logf("first attempt: %v; Add sent %d PutItem requests", refused, sent)
	if err != nil || !ok || sent != 2 {
		t.Fatalf("Add = %v, %v after %d requests; want true after a second one", ok, err, sent)
	}
	cachetest.WantValue(t, c, "k", "v")
}

// The per-call timeout is calltimeout.Default unless WithTimeout or the
// URL's timeout parameter sets it, and must be positive.
func TestTimeoutOption(t *testing.T) {
	client := newClient(endpoint(t))
	table := newTable(t, client)
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := dynamocache.New(t.Context(), client, table, dynamocache.WithTimeout(d)); err == nil {
			t.Errorf("New with WithTimeout(%v) succeeded", d)
		}
	}
	if d := dynamocache.Timeout(newCache(t, client, table)); d != calltimeout.Default {
		t.Errorf("default timeout %v, want %v", d, calltimeout.Default)
	}
	a := cachetest.Open(t, openURL(t, table, "timeout", "750ms"))
	if d := dynamocache.Timeout(a.(*dynamocache.Cache)); d != 750*time.Millisecond {
		t.Errorf("timeout=750ms gave %v", d)
	}
}

// New asks the server about the table: with a server that stopped
// answering and a context without a deadline, the timeout ends it.
func TestNewBoundedByTimeout(t *testing.T) {
	table := newTable(t, newClient(endpoint(t)))
	u, _ := url.Parse(endpoint(t))
	proxy := faultproxy.Start(t, u.Host)
	proxy.Blackhole()
	const timeout = 300 * time.Millisecond
	for _, opts := range [][]dynamocache.Option{
		{dynamocache.WithTimeout(timeout)},
		{dynamocache.WithTimeout(timeout), dynamocache.WithCreateTable(), dynamocache.WithLogger(testLogger(t))},
	} {
		start := time.Now()
		_, err := dynamocache.New(context.Background(), newClient("http://"+proxy.Addr()), table, opts...)
		if took := time.Since(start); err == nil || took > 3*timeout+time.Second {
			t.Errorf("New through a black hole: %v after %v, want an error by about the %v timeout (a request or two)", err, took, timeout)
		}
	}
}
