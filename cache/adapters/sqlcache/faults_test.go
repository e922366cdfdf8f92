package sqlcache_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// throughProxy runs test, as a subtest, on each database that is a server,
// opened through a fault proxy (SQLite is a file: there is no network to
// break).
func throughProxy(t *testing.T, test func(t *testing.T, db *sql.DB, proxy *faultproxy.Proxy)) {
	for _, b := range backends {
		if b.via == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			var proxy *faultproxy.Proxy
			db := b.via(t, func(upstream string) string {
				proxy = faultproxy.Start(t, upstream)
				return proxy.Addr()
			})
			test(t, db, proxy)
		})
	}
}

// timed returns an adapter on a new table of db whose per-call timeout is
// timeout. The table is created, and a first connection opened, with the
// default timeout: a PostgreSQL connection takes a few hundred
// milliseconds on a busy machine, and New gives each of its steps the
// adapter's timeout.
func timed(t *testing.T, db *sql.DB, timeout time.Duration) (c *sqlcache.Cache, table string) {
	t.Helper()
	table = newTable(t, db)
	newCache(t, db, sqlcache.WithTable(table)).Close()
	c = newCache(t, db, sqlcache.WithTable(table), sqlcache.WithoutCreateTable(), sqlcache.WithTimeout(timeout))
	t.Cleanup(func() { c.Close() })
	return c, table
}

// TestFaults puts a fault proxy between the adapter and each server: while
// the server is unreachable, every call ends with an error by its context's
// deadline, or by the adapter's timeout without one (never a panic, a hang
// or a false miss), a write whose reply is lost reports the truth or
// cache.ErrUncertain, and the adapter works again once the network does.
func TestFaults(t *testing.T) {
	throughProxy(t, func(t *testing.T, db *sql.DB, proxy *faultproxy.Proxy) {
		const deadline = 300 * time.Millisecond
		c, _ := timed(t, db, deadline)
		cachetest.RunFaults(t, c, proxy, deadline)
	})
}

// returns calls op, which is to end by itself within limit, and returns
// its error and how long it took; it fails the test if op is still running
// at limit, which the faults below would make it do for minutes or for
// ever.
func returns(t *testing.T, limit time.Duration, op func() error) (time.Duration, error) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- op() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(limit):
		t.Fatalf("still running after %v", limit)
		return 0, nil
	}
}

// late is how long after its deadline a call may end on a busy machine, as
// RunFaults allows.
func late(deadline time.Duration) time.Duration { return deadline + max(deadline, time.Second) }

// A SetMany whose COMMIT reaches the server but whose reply is lost, or
// never comes because the server stops answering, has been applied: the
// error says that it may have been, and with a context without deadline
// the adapter's timeout ends the wait (go-sql-driver/mysql does not watch
// the context of (*sql.Tx).Commit).
func TestCommitReply(t *testing.T) {
	throughProxy(t, func(t *testing.T, db *sql.DB, proxy *faultproxy.Proxy) {
		// The timeout is the bound of a stalled COMMIT, and leaves
		// the statements before it time to run on a busy machine.
		const timeout = time.Second
		c, table := timed(t, db, timeout)
		// Reads of the outcome, once the network is back, may need a
		// new connection: they get the tests' longer timeout.
		check := newCache(t, db, sqlcache.WithTable(table), sqlcache.WithoutCreateTable())
		for _, hold := range []bool{false, true} {
			items := map[string][]byte{"a": fmt.Appendf(nil, "a-%v", hold), "b": fmt.Appendf(nil, "b-%v", hold)}
			var err error
			var took time.Duration
			// An attempt whose timeout ends it before it sends its
			// COMMIT says nothing about COMMIT: try again.
			for attempt := 0; ; attempt++ {
				retry(t, "a SetMany that works", func(ctx context.Context) error { return c.SetMany(ctx, items, 0) })
				lost := proxy.LoseReplyTo("COMMIT", hold)
				took, err = returns(t, 10*late(timeout), func() error { return c.SetMany(context.Background(), items, 0) })
				proxy.Restore()
				t.Logf("hold=%v: SetMany returned after %v: %v", hold, took.Round(time.Millisecond), err)
				if lost() {
					break
				}
				if attempt == 4 {
					t.Fatalf("hold=%v: no reply to COMMIT was lost in 5 attempts", hold)
				}
			}
			if !errors.Is(err, cache.ErrUncertain) {
				t.Errorf("hold=%v: SetMany whose COMMIT got no reply: %v; want an error matching cache.ErrUncertain", hold, err)
			}
			if hold && (!errors.Is(err, context.DeadlineExceeded) || took > late(timeout)) {
				t.Errorf("hold=%v: SetMany took %v: %v; want context.DeadlineExceeded by the %v timeout", hold, took, err, timeout)
			}
			for k, v := range items {
				cachetest.WantValue(t, check, k, string(v))
			}
		}
	})
}

// A write whose own reply is lost (RunFaults' lost-reply rules mostly lose
// the reply to the statement's preparation on a new connection instead)
// has been applied once, and its error says that it may have been. Each
// write is found by an argument that only it sends.
func TestLostReplies(t *testing.T) {
	throughProxy(t, func(t *testing.T, db *sql.DB, proxy *faultproxy.Proxy) {
		c, table := timed(t, db, suiteTimeout)
		check := newCache(t, db, sqlcache.WithTable(table), sqlcache.WithoutCreateTable())
		ctx := t.Context()
		for _, tc := range []struct {
			name, key, before, marker, after string // "" before: no entry
			call                             func(key string) error
		}{
			{"Set", "set", "old", "set-new", "set-new", func(k string) error { return c.Set(ctx, k, []byte("set-new"), 0) }},
			{"Add", "add", "", "add-new", "add-new", func(k string) error { _, err := c.Add(ctx, k, []byte("add-new"), 0); return err }},
			{"Delete", "delete-4f1e", "old", "delete-4f1e", "", func(k string) error { _, err := c.Delete(ctx, k); return err }},
			{"Increment", "incr", "1000000", "1000001", "1000001", func(k string) error { _, err := c.Increment(ctx, k, 1); return err }},
			{"IncrementMissing", "incr-missing", "", "123456789", "123456789", func(k string) error {
				_, err := c.Increment(ctx, k, 123456789)
				return err
			}},
		} {
			if tc.before == "" {
				_, err := c.Delete(ctx, tc.key)
				must(t, err)
			} else {
				must(t, c.Set(ctx, tc.key, []byte(tc.before), 0))
			}
			lost := proxy.LoseReplyTo(tc.marker, false)
			err := tc.call(tc.key)
			proxy.Restore()
			if !lost() {
				t.Fatalf("%s: no reply to a request holding %q was lost (%v)", tc.name, tc.marker, err)
			}
			if !errors.Is(err, cache.ErrUncertain) {
				t.Errorf("%s whose reply was lost: %v; want an error matching cache.ErrUncertain", tc.name, err)
			}
			if tc.after == "" {
				cachetest.WantMiss(t, check, tc.key)
			} else {
				cachetest.WantValue(t, check, tc.key, tc.after)
			}
		}
	})
}

// retry calls op until it succeeds, for ten seconds, as a network just
// restored may need a moment.
func retry(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for err := op(ctx); err != nil; err = op(ctx) {
		if ctx.Err() != nil {
			t.Fatalf("%s: still failing after 10 s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With every connection of the pool in use, a call waits for one, and with
// SQLite's single connection it does so whenever another call runs: the
// adapter's timeout ends the wait of a call whose context has no deadline.
func TestTimeoutBoundsPoolWait(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			db.SetMaxOpenConns(1)
			const timeout = 300 * time.Millisecond
			c, _ := timed(t, db, timeout)
			conn, err := db.Conn(t.Context())
			must(t, err)
			defer conn.Close()
			for name, op := range map[string]func(ctx context.Context) error{
				"Get": func(ctx context.Context) error { _, err := c.Get(ctx, "k"); return err },
				"Set": func(ctx context.Context) error { return c.Set(ctx, "k", []byte("v"), 0) },
				"SetMany": func(ctx context.Context) error {
					return c.SetMany(ctx, map[string][]byte{"k": nil, "j": nil}, 0)
				},
				"Clear": c.Clear,
			} {
				took, err := returns(t, 10*late(timeout), func() error { return op(context.Background()) })
				if !errors.Is(err, context.DeadlineExceeded) || took > late(timeout) {
					t.Errorf("%s waiting for a connection: %v after %v; want context.DeadlineExceeded by the %v timeout", name, err, took, timeout)
				}
			}
		})
	}
}

// The per-call timeout is calltimeout.Default unless WithTimeout says
// otherwise, and it must bound something.
func TestTimeoutOption(t *testing.T) {
	db := openSQLite(t)
	c, err := sqlcache.New(t.Context(), db)
	must(t, err)
	defer c.Close()
	if got := sqlcache.Timeout(c); got != calltimeout.Default {
		t.Errorf("default timeout %v, want %v", got, calltimeout.Default)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if c, err := sqlcache.New(t.Context(), db, sqlcache.WithTimeout(d)); err == nil {
			c.Close()
			t.Errorf("New accepted WithTimeout(%v)", d)
		}
	}
}
