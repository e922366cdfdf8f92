package mongocache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/mongocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Faults between the adapter and a real server, injected by a proxy: every
// call ends with an error by its context's deadline, or by the adapter's
// own timeout for a context without one, never a panic or a miss; no write
// is applied twice or reports a wrong result when its reply is lost; and
// the adapter works again once the network does.
func TestFaults(t *testing.T) {
	_, host := serverURI(t)
	proxy := faultproxy.Start(t, host)
	client := connect(t, "mongodb://"+proxy.Addr()+"/?directConnection=true")
	coll := newCollection(t, client)
	probe := newCache(t, coll, mongocache.WithPrefix("probe:"))
	deadline := proxy.Deadline(500*time.Millisecond, func(ctx context.Context) error { return probe.Set(ctx, "probe", nil, 0) })
	c := newCache(t, coll, mongocache.WithPrefix("faults:"), mongocache.WithTimeout(deadline))
	defer c.Close()
	cachetest.RunFaults(t, c, proxy, deadline)
}

// watchedCollection returns a collection of its own whose client talks to
// the server through a proxy and reports every command it sends to the
// returned Requests, by name.
func watchedCollection(t *testing.T) (*mongo.Collection, *faultproxy.Requests, *faultproxy.Proxy) {
	t.Helper()
	_, host := serverURI(t)
	proxy := faultproxy.Start(t, host)
	reqs := proxy.Requests()
	client, err := mongo.Connect(options.Client().
		ApplyURI("mongodb://" + proxy.Addr() + "/?directConnection=true").
		SetServerSelectionTimeout(5 * time.Second).
		// No heartbeat while a test runs, so that a lost reply is the
		// reply to the command the test chose.
		SetHeartbeatInterval(time.Hour).
		SetMonitor(&event.CommandMonitor{
			Started: func(_ context.Context, e *event.CommandStartedEvent) { reqs.Sending(e.CommandName) },
			Failed:  func(_ context.Context, e *event.CommandFailedEvent) { reqs.Failed(e.CommandName) },
		}))
	must(t, err)
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return newCollection(t, client), reqs, proxy
}

// A write whose command reached the server but whose reply was lost,
// including the commands of a key lock on FerretDB, which RunFaults cannot
// single out (it loses the reply to a call's first command): the command
// is never sent again, the call reports the truth or an error matching
// cache.ErrUncertain (or, when only taking the lock failed, any error),
// the key holds its value from before or after one application, and no
// key lock is left behind to hold back the next call. Before the fix, a
// write under the lock or the lock's release that lost its reply returned
// an error that did not match cache.ErrUncertain although the write was
// applied, and a lost reply to the lock's insert left the key locked.
func TestLostReplies(t *testing.T) {
	coll, reqs, proxy := watchedCollection(t)
	locked := newCache(t, coll, mongocache.WithPrefix("locked:"))
	atomic := newCache(t, coll, mongocache.WithPrefix("atomic:"))
	mongocache.UseAtomicUpdates(atomic)
	const missing = "<miss>"
	type outcome int
	const (
		truth     outcome = iota // the result of one application
		uncertain                // an error matching cache.ErrUncertain
		failed                   // an error, and the key untouched
	)
	incr := func(c *mongocache.Cache) func(ctx context.Context) (any, error) {
		return func(ctx context.Context) (any, error) { return c.Increment(ctx, "k", 1) }
	}
	add := func(c *mongocache.Cache) func(ctx context.Context) (any, error) {
		return func(ctx context.Context) (any, error) { return c.Add(ctx, "k", []byte("new"), 0) }
	}
	type lostReply struct {
		name          string
		c             *mongocache.Cache
		before, after string
		cmd           string // the command whose n-th sending loses its reply
		n             int
		call          func(ctx context.Context) (any, error)
		want          any
		outcome       outcome
	}
	cases := []lostReply{
		{"Increment/atomic", atomic, "100", "101", "findAndModify", 1, incr(atomic), int64(101), uncertain},
		{"Add/atomic", atomic, missing, "new", "update", 1, add(atomic), true, uncertain},
	}
	if mongocache.LocksKeys(locked) {
		// Increment and Add under a key lock: insert the lock, find the
		// entry, update it, delete the lock.
		cases = append(cases,
			lostReply{"Increment/lock/take", locked, "100", "101", "insert", 1, incr(locked), nil, failed},
			lostReply{"Increment/lock/write", locked, "100", "101", "update", 1, incr(locked), nil, uncertain},
			lostReply{"Increment/lock/release", locked, "100", "101", "delete", 1, incr(locked), int64(101), truth},
			lostReply{"Add/lock/write", locked, missing, "new", "update", 1, add(locked), nil, uncertain},
			lostReply{"Add/lock/release", locked, missing, "new", "delete", 1, add(locked), true, truth},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			var got any
			var err error
			var count faultproxy.Count
			// The driver's own commands (a connection's handshake) may
			// pass the proxy while the chosen command waits, and lose
			// their reply instead: then the chosen one did not fail.
			for attempt := 1; count.Failed == 0; attempt++ {
				if attempt > 3 {
					t.Fatalf("the reply to %s %d was not lost in three attempts (%+v): %v, %v", tc.cmd, tc.n, count, got, err)
				}
				_, derr := tc.c.Delete(ctx, "k")
				must(t, derr)
				if tc.before != missing {
					must(t, tc.c.Set(ctx, "k", []byte("0"), 0))
					_, ierr := tc.c.Increment(ctx, "k", 100)
					must(t, ierr)
				}
				reqs.LoseReplyTo(tc.cmd, tc.n)
				got, err = tc.call(ctx)
				count = reqs.Count(tc.cmd)
				proxy.Restore()
			}
			sent := count.Sent
			state := missing
			if v, gerr := tc.c.Get(ctx, "k"); gerr == nil {
				state = string(v)
			} else if !errors.Is(gerr, cache.ErrNotFound) {
				t.Fatal(gerr)
			}
			t.Logf("%s %d lost its reply; the call sent %d and reported %v, %v; the key holds %q", tc.cmd, tc.n, sent, got, err, state)
			switch tc.outcome {
			case truth:
				if err != nil || got != tc.want || state != tc.after {
					t.Errorf("reported %v, %v with the key at %q; want %v, nil with %q", got, err, state, tc.want, tc.after)
				}
			case uncertain:
				if !errors.Is(err, cache.ErrUncertain) || state != tc.before && state != tc.after {
					t.Errorf("reported %v, %v with the key at %q; want an error matching cache.ErrUncertain with %q or %q", got, err, state, tc.before, tc.after)
				}
			case failed:
				if err == nil || state != tc.before {
					t.Errorf("reported %v, %v with the key at %q; want an error with %q", got, err, state, tc.before)
				}
			}
			if sent != tc.n {
				t.Errorf("%d %s commands, want %d: the one whose reply was lost was sent again", sent, tc.cmd, tc.n)
			}
			var lock bson.M
			if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "\x00" + mongocache.ID(tc.c, "k")}}).Decode(&lock); !errors.Is(err, mongo.ErrNoDocuments) {
				t.Errorf("key lock after the call: %v, %v; want none", lock, err)
			}
		})
	}
}

// Concurrent Increments of one key through one Cache on FerretDB take
// turns in the process, so that one at a time contends for the key lock:
// no insert of the lock fails and the lock is never read. Before the fix
// every waiter tried the insert and read the lock every few milliseconds;
// each read is a scan of the whole collection on FerretDB, and with a
// 1 MiB value in the collection (as cachetest's shared collection holds)
// the holder's own commands queued behind theirs: IncrementConcurrent hung
// for ten minutes. Across Caches, which cannot take turns, a waiter reads
// the lock only when the lease it last saw may have ended.
func TestKeyLockTurns(t *testing.T) {
	coll, reqs, _ := watchedCollection(t)
	one := newCache(t, coll, mongocache.WithPrefix("turns:"))
	if !mongocache.LocksKeys(one) {
		t.Skip("the server's updates are atomic: no key locks")
	}
	other := newCache(t, coll, mongocache.WithPrefix("turns:"))
	const workers, each = 8, 5
	increment := func(caches ...*mongocache.Cache) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				for range each {
					if _, err := caches[i%len(caches)].Increment(t.Context(), "n", 1); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}

	reqs.LoseReplyTo("", 0) // counts from here
	increment(one)
	inserts, finds := reqs.Count("insert").Sent, reqs.Count("find").Sent
	t.Logf("one Cache: %d increments sent %d inserts and %d finds", workers*each, inserts, finds)
	// One lock insert and one read of the counter per increment.
	if inserts != workers*each || finds != workers*each {
		t.Errorf("%d increments sent %d inserts and %d finds, want %d of each", workers*each, inserts, finds, workers*each)
	}
	cachetest.WantValue(t, one, "n", fmt.Sprint(workers*each))

	reqs.LoseReplyTo("", 0)
	increment(one, other)
	inserts, finds = reqs.Count("insert").Sent, reqs.Count("find").Sent
	t.Logf("two Caches: %d increments sent %d inserts and %d finds", workers*each, inserts, finds)
	// A read of the counter per increment, and at most one read of the
	// lock per increment that found it held.
	if finds > 2*workers*each {
		t.Errorf("%d increments sent %d finds, want at most %d", workers*each, finds, 2*workers*each)
	}
	cachetest.WantValue(t, one, "n", fmt.Sprint(2*workers*each))
}

// The per-call timeout is calltimeout.Default unless WithTimeout or the
// URL's timeout parameter sets it, and must be positive.
func TestTimeoutOption(t *testing.T) {
	uri, _ := serverURI(t)
	coll := newCollection(t, connect(t, uri))
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := mongocache.New(t.Context(), coll, mongocache.WithTimeout(d)); err == nil {
			t.Errorf("New with WithTimeout(%v) succeeded", d)
		}
	}
	c, err := mongocache.New(t.Context(), coll, mongocache.WithLogger(quiet))
	must(t, err)
	if d := mongocache.Timeout(c); d != calltimeout.Default {
		t.Errorf("default timeout %v, want %v", d, calltimeout.Default)
	}
	a := cachetest.Open(t, openURL(t, coll, "timeout", "750ms"))
	if d := mongocache.Timeout(a.(*mongocache.Cache)); d != 750*time.Millisecond {
		t.Errorf("timeout=750ms gave %v", d)
	}
}

// New asks the server about itself and makes indexes: with a server that
// stopped answering and a context without a deadline, the timeout ends it.
func TestNewBoundedByTimeout(t *testing.T) {
	_, host := serverURI(t)
	proxy := faultproxy.Start(t, host)
	coll := newCollection(t, connect(t, "mongodb://"+proxy.Addr()+"/?directConnection=true"))
	proxy.Blackhole()
	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := mongocache.New(context.Background(), coll, mongocache.WithTimeout(timeout), mongocache.WithLogger(quiet))
	if took := time.Since(start); err == nil || took > timeout+2*time.Second {
		t.Errorf("New through a black hole: %v after %v, want an error by about the %v timeout", err, took, timeout)
	}
}
