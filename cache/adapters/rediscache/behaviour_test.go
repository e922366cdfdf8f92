package rediscache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/redis/go-redis/v9"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewRefusesClientsThatIgnoreDeadlines(t *testing.T) {
	for _, client := range []redis.UniversalClient{
		redis.NewClient(&redis.Options{Addr: defAddr}),
		redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{defAddr}}),
		redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": defAddr}}),
		redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{defAddr}}),
	} {
		if _, err := rediscache.New(client); !errors.Is(err, rediscache.ErrNoContextTimeout) {
			t.Errorf("New(%T without ContextTimeoutEnabled) = %v, want ErrNoContextTimeout", client, err)
		}
		client.Close()
	}
	if _, err := rediscache.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// Clear with a prefix that contains glob characters deletes exactly the
// keys under that prefix: not those of an adapter whose prefix the
// unescaped pattern would match, nor a foreign key written by the raw
// client.
func TestClearIsScopedToItsPrefix(t *testing.T) {
	for name, client := range map[string]func(t *testing.T) redis.UniversalClient{
		"standalone": func(t *testing.T) redis.UniversalClient { return newStandalone(t, 0) },
		"cluster":    func(t *testing.T) redis.UniversalClient { return newCluster(t) },
	} {
		t.Run(name, func(t *testing.T) {
			rc := client(t)
			ctx := t.Context()
			base := uniquePrefix("%s")
			// Unescaped, "base*" would match every other prefix here and
			// "base[x]" would match "basex".
			a := newCache(t, rc, rediscache.WithPrefix(base+"*"))
			b := newCache(t, rc, rediscache.WithPrefix(base+"x"))
			c := newCache(t, rc, rediscache.WithPrefix(base+"[x]"))
			foreign := base + "-foreign"
			must(t, rc.Set(ctx, foreign, "raw", 0).Err())
			t.Cleanup(func() { rc.Del(context.Background(), foreign) })
			for i := range 300 {
				k := fmt.Sprintf("k%d", i)
				must(t, a.Set(ctx, k, []byte("a"), 0))
				must(t, b.Set(ctx, k, []byte("b"), 0))
				must(t, c.Set(ctx, k, []byte("c"), 0))
			}
			must(t, a.Clear(ctx))
			for i := range 300 {
				k := fmt.Sprintf("k%d", i)
				if ok, err := a.Has(ctx, k); ok || err != nil {
					t.Fatalf("after Clear, a.Has(%q) = %v, %v", k, ok, err)
				}
				cachetest.WantValue(t, b, k, "b")
				cachetest.WantValue(t, c, k, "c")
			}
			if v, err := rc.Get(ctx, foreign).Result(); v != "raw" || err != nil {
				t.Fatalf("foreign key after Clear: %q, %v", v, err)
			}
			must(t, c.Clear(ctx))
			cachetest.WantValue(t, b, "k0", "b")
		})
	}
}

func TestUnprefixedClear(t *testing.T) {
	ctx := t.Context()
	mine, other := newStandalone(t, acquireDB(t)), newStandalone(t, acquireDB(t))
	must(t, mine.Set(ctx, "foreign", "x", 0).Err())
	must(t, other.Set(ctx, "elsewhere", "x", 0).Err())

	refusing := newCache(t, mine)
	if err := refusing.Clear(ctx); !errors.Is(err, rediscache.ErrUnprefixedClear) {
		t.Fatalf("Clear without a prefix = %v, want ErrUnprefixedClear", err)
	}
	if n, _ := mine.Exists(ctx, "foreign").Result(); n != 1 {
		t.Fatal("a refused Clear deleted a key")
	}

	a := newCache(t, mine, rediscache.WithUnprefixedClear())
	for i := range 2500 { // several SCAN batches
		must(t, a.Set(ctx, fmt.Sprint(i), nil, 0))
	}
	must(t, a.Clear(ctx))
	if n, err := mine.DBSize(ctx).Result(); n != 0 || err != nil {
		t.Fatalf("after an unprefixed Clear the database holds %d keys (%v), want 0", n, err)
	}
	if n, _ := other.Exists(ctx, "elsewhere").Result(); n != 1 {
		t.Fatal("an unprefixed Clear reached another database")
	}
}

// commands counts the data commands a client sends (not the handshakes of
// new connections), alone and in pipelines.
type commands struct{ single, pipelines, piped atomic.Int64 }

func isData(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "set", "mget", "unlink":
		return true
	}
	return false
}

func (c *commands) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isData(cmd) {
			c.single.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *commands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		data := 0
		for _, cmd := range cmds {
			if isData(cmd) {
				data++
			}
		}
		if data > 0 {
			c.pipelines.Add(1)
			c.piped.Add(int64(data))
		}
		return next(ctx, cmds)
	}
}

func (c *commands) reset() { c.single.Store(0); c.pipelines.Store(0); c.piped.Store(0) }

// Batches are one command on one server and one pipeline on a cluster, with
// keys over many hash slots and every master, and never a CROSSSLOT error.
func TestBatchesAcrossSlots(t *testing.T) {
	const n = 1000
	keys := make([]string, n)
	items := make(map[string][]byte, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%d", i)
		items[keys[i]] = []byte(keys[i])
	}
	check := func(t *testing.T, a *rediscache.Cache, count *commands, wantGetCmds int) {
		ctx := t.Context()
		count.reset()
		must(t, a.SetMany(ctx, items, time.Minute))
		if count.pipelines.Load() != 1 || count.piped.Load() != n {
			t.Errorf("SetMany of %d items: %d pipelines of %d commands, want 1 of %d", n, count.pipelines.Load(), count.piped.Load(), n)
		}
		count.reset()
		hits, err := a.GetMany(ctx, append(keys, "missing", "{missing}"))
		if err != nil || len(hits) != n {
			t.Fatalf("GetMany = %d hits, %v; want %d", len(hits), err, n)
		}
		for k, v := range hits {
			if string(v) != k {
				t.Fatalf("GetMany: %q = %q", k, v)
			}
		}
		if got := count.single.Load() + count.piped.Load(); got != int64(wantGetCmds) {
			t.Errorf("GetMany sent %d MGETs, want %d", got, wantGetCmds)
		}
		if count.pipelines.Load() > 1 {
			t.Errorf("GetMany used %d pipelines, want at most 1", count.pipelines.Load())
		}
		deleted, err := a.DeleteMany(ctx, append(keys, "missing"))
		if err != nil || deleted != n {
			t.Fatalf("DeleteMany = %d, %v; want %d", deleted, err, n)
		}
	}
	t.Run("standalone", func(t *testing.T) {
		client, count := newStandalone(t, 0), &commands{}
		client.AddHook(count)
		check(t, newCache(t, client, rediscache.WithPrefix(uniquePrefix("%s:"))), count, 1)
	})
	t.Run("cluster", func(t *testing.T) {
		client, count := newCluster(t), &commands{}
		client.AddHook(count)
		prefix := uniquePrefix("%s:")
		slots := map[int64]bool{}
		for _, k := range append(keys, "missing", "{missing}") {
			s, err := client.ClusterKeySlot(t.Context(), prefix+k).Result()
			must(t, err)
			slots[s] = true
		}
		shards, err := client.ClusterShards(t.Context()).Result()
		must(t, err)
		masters := map[int]bool{}
		for s := range slots {
			for i, shard := range shards {
				for _, r := range shard.Slots {
					if r.Start <= s && s <= r.End {
						masters[i] = true
					}
				}
			}
		}
		if len(slots) < 900 || len(masters) != 3 {
			t.Fatalf("the test keys span %d slots on %d masters; want most of %d slots on 3", len(slots), len(masters), n)
		}
		check(t, newCache(t, client, rediscache.WithPrefix(prefix)), count, len(slots))
	})
	t.Run("cluster-hashtag", func(t *testing.T) {
		client, count := newCluster(t), &commands{}
		client.AddHook(count)
		check(t, newCache(t, client, rediscache.WithPrefix(uniquePrefix("{%s}:"))), count, 1)
	})
}

// Keys reach both shards of a Ring, and batches find them there.
func TestRingSpreadsKeys(t *testing.T) {
	ring, shards := newRing(t)
	a := newCache(t, ring, rediscache.WithPrefix(uniquePrefix("%s:")))
	ctx := t.Context()
	keys := make([]string, 200)
	items := map[string][]byte{}
	for i := range keys {
		keys[i] = fmt.Sprint(i)
		items[keys[i]] = []byte(keys[i])
	}
	must(t, a.SetMany(ctx, items, 0))
	var total int64
	for i, s := range shards {
		n, err := s.DBSize(ctx).Result()
		must(t, err)
		if n == 0 {
			t.Fatalf("shard %d holds no key", i)
		}
		total += n
	}
	if total != int64(len(keys)) {
		t.Fatalf("the shards hold %d keys, want %d", total, len(keys))
	}
	hits, err := a.GetMany(ctx, keys)
	if err != nil || len(hits) != len(keys) {
		t.Fatalf("GetMany = %d hits, %v; want %d", len(hits), err, len(keys))
	}
	must(t, a.Clear(ctx))
	for i, s := range shards {
		if n, _ := s.DBSize(ctx).Result(); n != 0 {
			t.Fatalf("shard %d holds %d keys after Clear", i, n)
		}
	}
}

// Redis's INCRBY refuses "007" and "-0", which the contract reads as
// integers; Increment still counts from them, keeping the TTL, atomically.
func TestIncrementNonCanonicalDecimals(t *testing.T) {
	a := newCache(t, newStandalone(t, 0), rediscache.WithPrefix(uniquePrefix("%s:")))
	ctx := t.Context()
	for _, tc := range []struct {
		stored string
		delta  int64
		want   int64
	}{{"007", 1, 8}, {"-0", 1, 1}, {"-007", -1, -8}, {"00", 0, 0}, {"09223372036854775806", 1, 1<<63 - 1}} {
		must(t, a.Set(ctx, tc.stored, []byte(tc.stored), 0))
		got, err := a.Increment(ctx, tc.stored, tc.delta)
		if err != nil || got != tc.want {
			t.Fatalf("Increment(%q, %d) = %d, %v; want %d", tc.stored, tc.delta, got, err, tc.want)
		}
		cachetest.WantValue(t, a, tc.stored, fmt.Sprint(tc.want))
	}
	must(t, a.Set(ctx, "big", []byte("09223372036854775807"), 0))
	if _, err := a.Increment(ctx, "big", 1); !errors.Is(err, cache.ErrOverflow) {
		t.Fatalf("Increment past MaxInt64 from a padded value = %v, want ErrOverflow", err)
	}
	cachetest.WantValue(t, a, "big", "09223372036854775807")

	cachetest.Expiring(t, time.Second, rediscache.Resolution, func(x *cachetest.Attempt) {
		x.Set(a, "ttl", "01")
		if n, err := a.Increment(ctx, "ttl", 1); n != 2 || err != nil {
			x.Live(fmt.Errorf("Increment = %d, %v; want 2", n, err))
		}
		x.Expire()
		if ok, _ := a.Has(ctx, "ttl"); ok {
			t.Fatal("Increment of a padded value dropped the TTL")
		}
	})

	// Concurrent first increments of a padded value race in WATCH; none is lost.
	must(t, a.Set(ctx, "race", []byte("000"), 0))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := a.Increment(ctx, "race", 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	cachetest.WantValue(t, a, "race", "160")
}

// Errors other than a miss wrap the client's error.
func TestErrorsWrapTheClientError(t *testing.T) {
	client := newStandalone(t, 0)
	prefix := uniquePrefix("%s:")
	a := newCache(t, client, rediscache.WithPrefix(prefix))
	ctx := t.Context()
	must(t, client.RPush(ctx, prefix+"list", "x").Err())
	_, err := a.Get(ctx, "list")
	var rerr redis.Error
	if !errors.As(err, &rerr) || errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get of a list = %v; want an error wrapping redis.Error", err)
	}
	if _, err := a.Increment(ctx, "list", 1); !errors.As(err, &rerr) {
		t.Fatalf("Increment of a list = %v; want an error wrapping redis.Error", err)
	}
}

func TestCloseLeavesTheClientOpen(t *testing.T) {
	client := newStandalone(t, 0)
	a := newCache(t, client, rediscache.WithPrefix(uniquePrefix("%s:")))
	must(t, a.Close())
	if _, err := a.Get(t.Context(), "k"); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	must(t, client.Ping(t.Context()).Err())
}

// Without a prefix the keys reach the cluster as they are: the empty key
// (slot 0, which go-redis routes at random and then follows the
// redirection), braces that are or are not hash tags. No Clear here: on
// the cluster it would need WithUnprefixedClear and wipe database 0.
func TestClusterUnprefixedKeys(t *testing.T) {
	client := newCluster(t)
	a, err := rediscache.New(client)
	must(t, err)
	ctx := t.Context()
	items := map[string][]byte{}
	for i, k := range cachetest.OddKeys {
		items[k] = []byte(fmt.Sprint(i))
	}
	t.Cleanup(func() { a.DeleteMany(context.Background(), cachetest.OddKeys) })
	must(t, a.SetMany(ctx, items, time.Minute))
	for k, v := range items {
		cachetest.WantValue(t, a, k, string(v))
	}
	hits, err := a.GetMany(ctx, cachetest.OddKeys)
	if err != nil || len(hits) != len(items) {
		t.Fatalf("GetMany = %d hits, %v; want %d", len(hits), err, len(items))
	}
	if n, err := a.DeleteMany(ctx, cachetest.OddKeys); n != len(items) || err != nil {
		t.Fatalf("DeleteMany = %d, %v; want %d", n, err, len(items))
	}
	if err := a.Clear(ctx); !errors.Is(err, rediscache.ErrUnprefixedClear) {
		t.Fatalf("Clear = %v, want ErrUnprefixedClear", err)
	}
}
