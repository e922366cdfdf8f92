//go:build unix

package filecache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

const (
	helperKeyEnv = "FILECACHE_TEST_HELPER_KEY"

	// The threshold tests: writers that each create boundWrites entries in
	// a cache whose threshold is boundThreshold.
	boundThreshold = 200
	boundWrites    = 250
)

// quiet drops the warnings that tests provoke on purpose.
var quiet = WithLogger(slog.New(slog.DiscardHandler))

func init() {
	// "hold" takes the stripe lock of the key in helperKeyEnv and the
	// pruning election, with flock on their files as any process using the
	// folder would, says "ready", and keeps them until it is killed. The
	// parent stops it with SIGSTOP: a peer that stalls holding locks.
	helperRoles["hold"] = func(t *testing.T, dir string) {
		c, err := New(dir, WithThreshold(0))
		if err != nil {
			t.Fatal(err)
		}
		_, stripe := c.locate(os.Getenv(helperKeyEnv))
		c.Close()
		var held []*os.File
		for _, name := range []string{stripeFileName(stripe), countFileName} {
			f, err := os.OpenFile(filepath.Join(dir, lockDirName, name), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if err := flockBlocking(f); err != nil {
				t.Fatal(err)
			}
			held = append(held, f)
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin) // until the parent kills this process
		for _, f := range held {
			f.Close()
		}
	}
	// "write" creates entries from 4 goroutines in a cache with the
	// threshold boundThreshold, as TestThresholdBound does in one process.
	helperRoles["write"] = func(t *testing.T, dir string) {
		c, err := New(dir, WithThreshold(boundThreshold))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		awaitStart(t)
		if err := createEntries(context.Background(), []*Cache{c}, 4, "p"+os.Getenv(helperIDEnv)); err != nil {
			t.Fatal(err)
		}
	}
}

func flockBlocking(f *os.File) error {
	for {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// keyInOtherStripe returns a key whose stripe is not stripe.
func keyInOtherStripe(c *Cache, stripe int) string {
	for i := 0; ; i++ {
		k := fmt.Sprint("other-", i)
		if _, s := c.locate(k); s != stripe {
			return k
		}
	}
}

// yardstick measures how long a few uncontended writes and reads take on
// this machine right now; tests judge lateness against it.
func yardstick(t *testing.T, c *Cache) time.Duration {
	t.Helper()
	var slowest time.Duration
	for i := range 5 {
		start := time.Now()
		if err := c.Set(t.Context(), "yardstick", []byte(fmt.Sprint(i)), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(t.Context(), "yardstick"); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	if _, err := c.Delete(t.Context(), "yardstick"); err != nil {
		t.Fatal(err)
	}
	return slowest
}

// returnsWithin runs call and returns its error and duration. If call has
// not returned after limit, the test fails: unblock is then called until
// call returns, so that nothing is left running.
func returnsWithin(t *testing.T, what string, limit time.Duration, call func() error, unblock func()) (error, time.Duration) {
	t.Helper()
	errs, took := allReturnWithin(t, what, limit, []func() error{call}, unblock)
	return errs[0], took[0]
}

// allReturnWithin is returnsWithin for calls run all at once.
func allReturnWithin(t *testing.T, what string, limit time.Duration, calls []func() error, unblock func()) ([]error, []time.Duration) {
	t.Helper()
	errs, took := make([]error, len(calls)), make([]time.Duration, len(calls))
	done := make(chan int, len(calls))
	start := time.Now()
	for i, call := range calls {
		go func() {
			errs[i] = call()
			took[i] = time.Since(start)
			done <- i
		}()
	}
	timeout := time.After(limit)
	for returned := 0; returned < len(calls); returned++ {
		select {
		case <-done:
			continue
		case <-timeout:
		}
		if len(calls) == 1 {
			t.Errorf("%s still blocked after %v", what, limit)
		} else {
			t.Errorf("%d of %d %s still blocked after %v", len(calls)-returned, len(calls), what, limit)
		}
		for ; returned < len(calls); returned++ {
			for {
				unblock()
				select {
				case <-done:
				case <-time.After(100 * time.Millisecond):
					continue
				}
				break
			}
		}
		t.FailNow()
	}
	return errs, took
}

// TestStoppedPeer stops, with SIGSTOP, a process that holds a stripe lock
// and the pruning election: every call that needs either must still return
// by its context's deadline, and without a deadline by the lock timeout.
func TestStoppedPeer(t *testing.T) {
	dir := t.TempDir()
	// The lock timeout is far beyond the test: here the contexts' deadlines
	// must end the waits.
	c := newCache(t, dir, WithThreshold(2), WithLockTimeout(time.Hour))
	ctx := t.Context()
	_, stripe := c.locate("k")
	other := keyInOtherStripe(c, stripe)
	late := max(time.Second, 10*yardstick(t, c))
	// Two entries: the count is at the threshold, so a new key must wait
	// for pruning. "k" expires, so that the sweeps want its stripe too.
	if err := c.Set(ctx, "k", []byte("1"), MinTTL); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, other, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * MinTTL)

	h := startHelper(t, "hold", dir, helperKeyEnv+"=k")
	if err := syscall.Kill(h.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	release := func() { h.cmd.Process.Kill() } // a killed process's locks are released

	const deadline = 200 * time.Millisecond
	call := func(what string, fn func(ctx context.Context) error) (error, time.Duration) {
		t.Helper()
		return returnsWithin(t, what, deadline+late, func() error {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			return fn(ctx)
		}, release)
	}

	// Ten Increments at once: one waits for the stopped peer's flock, the
	// others for the stripe in this process.
	incs := make([]func() error, 10)
	for i := range incs {
		incs[i] = func() error {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			_, err := c.Increment(ctx, "k", 1)
			return err
		}
	}
	errs, took := allReturnWithin(t, "Increments", deadline+late, incs, release)
	for i, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Increment %d behind a stopped peer: %v after %v, want context.DeadlineExceeded", i, err, took[i])
		}
	}

	for _, op := range []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"Set", func(ctx context.Context) error { return c.Set(ctx, "k", []byte("v"), 0) }},
		{"Add", func(ctx context.Context) error { _, err := c.Add(ctx, "k", []byte("v"), 0); return err }},
		{"Delete", func(ctx context.Context) error { _, err := c.Delete(ctx, "k"); return err }},
		{"SetMany", func(ctx context.Context) error { return c.SetMany(ctx, map[string][]byte{"k": nil}, 0) }},
		{"DeleteMany", func(ctx context.Context) error { _, err := c.DeleteMany(ctx, []string{"k"}); return err }},
		{"Set of a new key at the threshold", func(ctx context.Context) error {
			return c.Set(ctx, keyInOtherStripe(c, stripe)+"-new", []byte("v"), 0)
		}},
		{"DeleteExpired", func(ctx context.Context) error { _, err := c.DeleteExpired(ctx); return err }},
		{"Clear", func(ctx context.Context) error { return c.Clear(ctx) }},
	} {
		if err, took := call(op.name, op.fn); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s behind a stopped peer: %v after %v, want context.DeadlineExceeded", op.name, err, took)
		}
	}

	// Reads never wait for a lock: the expired entry is a miss at once,
	// its removal left for later.
	if err, took := call("Get", func(ctx context.Context) error { _, err := c.Get(ctx, "k"); return err }); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Get of an expired entry behind a stopped peer: %v after %v, want a miss", err, took)
	}

	// Without a deadline in the context, the lock timeout ends the wait.
	c2 := newCache(t, dir, WithLockTimeout(deadline))
	err, after := returnsWithin(t, "Increment without a deadline", deadline+late, func() error {
		_, err := c2.Increment(context.Background(), "k", 1)
		return err
	}, release)
	if !errors.Is(err, ErrLockTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Increment without a deadline behind a stopped peer: %v after %v, want ErrLockTimeout and context.DeadlineExceeded", err, after)
	}
	t.Logf("the lock timeout of %v ended a wait after %v (allowed: %v)", deadline, after, deadline+late)

	// Once the peer is gone, the locks are free again.
	release()
	h.cmd.Wait()
	if n, err := c.Increment(ctx, "k", 1); n != 1 || err != nil {
		t.Fatalf("Increment after the peer died = %d, %v; want 1", n, err)
	}
}

// victim is a file outside the cache folder that belongs to someone else:
// nothing the cache does may change its mode or its content.
type victim struct {
	path string
	data []byte
}

func newVictim(t *testing.T, dir string) victim {
	t.Helper()
	v := victim{filepath.Join(dir, "victim"), []byte("another user's private file, long enough for a counter")}
	if err := os.WriteFile(v.path, v.data, 0o600); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v victim) check(t *testing.T) {
	t.Helper()
	fi, err := os.Stat(v.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("victim's mode changed to %v", fi.Mode().Perm())
	}
	if got, err := os.ReadFile(v.path); err != nil || !bytes.Equal(got, v.data) {
		t.Errorf("victim's content changed to %q (%v)", got, err)
	}
}

// TestNoSymlinks plants symbolic links, hard links and special files where
// the cache keeps its lock files and entries, as a member of a group
// sharing the folder could (WithMode(0o660)): the cache must refuse them,
// never follow them.
func TestNoSymlinks(t *testing.T) {
	const mode = 0o660
	wantUnsafe := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrUnsafeFile) {
			t.Errorf("%s: %v, want ErrUnsafeFile", what, err)
		}
	}
	newFails := func(t *testing.T, dir string) {
		t.Helper()
		c, err := New(dir, WithMode(mode))
		if err == nil {
			c.Close()
		}
		wantUnsafe(t, "New", err)
	}
	locks := func(dir string) string { return filepath.Join(dir, lockDirName) }

	t.Run("stripe file is a symlink", func(t *testing.T) {
		dir := t.TempDir()
		v := newVictim(t, t.TempDir())
		c := newCache(t, dir, WithMode(mode))
		_, stripe := c.locate("k")
		if err := os.Symlink(v.path, filepath.Join(locks(dir), stripeFileName(stripe))); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, "Set", c.Set(t.Context(), "k", []byte("v"), 0))
		_, err := c.Increment(t.Context(), "k", 1)
		wantUnsafe(t, "Increment", err)
		v.check(t)
	})
	t.Run("stripe file is a FIFO", func(t *testing.T) {
		dir := t.TempDir()
		c := newCache(t, dir, WithMode(mode))
		_, stripe := c.locate("k")
		if err := syscall.Mkfifo(filepath.Join(locks(dir), stripeFileName(stripe)), 0o600); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, "Set", c.Set(t.Context(), "k", []byte("v"), 0))
	})
	t.Run("count file is a symlink", func(t *testing.T) {
		dir := t.TempDir()
		v := newVictim(t, t.TempDir())
		if err := os.Mkdir(locks(dir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(v.path, filepath.Join(locks(dir), countFileName)); err != nil {
			t.Fatal(err)
		}
		newFails(t, dir)
		v.check(t)
	})
	t.Run("count file is a hard link", func(t *testing.T) {
		dir := t.TempDir()
		v := newVictim(t, dir) // same filesystem, outside the lock folder
		if err := os.Mkdir(locks(dir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(v.path, filepath.Join(locks(dir), countFileName)); err != nil {
			t.Skipf("cannot make a hard link here: %v", err)
		}
		newFails(t, dir)
		v.check(t)
	})
	t.Run("lock folder is a symlink", func(t *testing.T) {
		dir, elsewhere := t.TempDir(), t.TempDir()
		if err := os.Symlink(elsewhere, locks(dir)); err != nil {
			t.Fatal(err)
		}
		newFails(t, dir)
		if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
			t.Errorf("New created files through the link: %v", ents)
		}
	})
	t.Run("lock folder is a file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(locks(dir), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		newFails(t, dir)
	})
	t.Run("lock folder swapped for a symlink after New", func(t *testing.T) {
		dir, elsewhere := t.TempDir(), t.TempDir()
		c := newCache(t, dir, WithMode(mode))
		_, stripe := c.locate("k")
		v := victim{filepath.Join(elsewhere, stripeFileName(stripe)), []byte("not a lock file")}
		if err := os.WriteFile(v.path, v.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(locks(dir), locks(dir)+"-moved"); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, locks(dir)); err != nil {
			t.Fatal(err)
		}
		// The cache keeps using the folder it opened, wherever it went.
		if err := c.Set(t.Context(), "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		v.check(t)
	})
	t.Run("cache folder is a symlink", func(t *testing.T) {
		real := t.TempDir()
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		newFails(t, link)
	})
	t.Run("cache folder is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		newFails(t, file)
	})
	t.Run("entry is a symlink", func(t *testing.T) {
		dir := t.TempDir()
		c := newCache(t, dir, WithMode(mode), quiet)
		// A well-formed entry file elsewhere, linked in under a key's name.
		v := victim{filepath.Join(t.TempDir(), "planted"), encode(nil, 0, 1, []byte("planted"))}
		if err := os.WriteFile(v.path, v.data, 0o600); err != nil {
			t.Fatal(err)
		}
		path, _ := c.locate("k")
		if err := os.Symlink(v.path, path); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Get(t.Context(), "k"); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("Get through a symlink = %q, %v; want a miss", got, err)
		}
		if err := c.Clear(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(t.Context(), "k", []byte("mine"), 0); err != nil {
			t.Fatal(err)
		}
		wantGet(t, c, "k", "mine")
		v.check(t)
	})
}

// TestNonRegularEntries puts a FIFO and a folder where an entry's file
// goes. Opening a FIFO for reading blocks until a writer comes, so the
// cache must never open one that way: every call returns, reads miss, and
// writes replace the FIFO.
func TestNonRegularEntries(t *testing.T) {
	kinds := map[string]func(path string) error{
		"fifo":   func(path string) error { return syscall.Mkfifo(path, 0o600) },
		"folder": func(path string) error { return os.Mkdir(path, 0o700) },
	}
	type op struct {
		name  string
		call  func(ctx context.Context, c *Cache) error
		write bool // replaces the file: not for a folder, which rename refuses
	}
	miss := func(err error) error {
		if errors.Is(err, cache.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("want a miss, got %w", err)
	}
	want := func(ok bool, err error) error {
		if err == nil && ok {
			return errors.New("reported an entry")
		}
		return err
	}
	ops := []op{
		{"Get", func(ctx context.Context, c *Cache) error { _, err := c.Get(ctx, "k"); return miss(err) }, false},
		{"GetWithTTL", func(ctx context.Context, c *Cache) error { _, _, err := c.GetWithTTL(ctx, "k"); return miss(err) }, false},
		{"View", func(ctx context.Context, c *Cache) error {
			return miss(c.View(ctx, "k", func([]byte) error { return nil }))
		}, false},
		{"Has", func(ctx context.Context, c *Cache) error { return want(c.Has(ctx, "k")) }, false},
		{"GetMany", func(ctx context.Context, c *Cache) error {
			hits, err := c.GetMany(ctx, []string{"k"})
			return want(len(hits) > 0, err)
		}, false},
		{"Delete", func(ctx context.Context, c *Cache) error { return want(c.Delete(ctx, "k")) }, false},
		{"DeleteMany", func(ctx context.Context, c *Cache) error {
			n, err := c.DeleteMany(ctx, []string{"k"})
			return want(n > 0, err)
		}, false},
		{"DeleteExpired", func(ctx context.Context, c *Cache) error { _, err := c.DeleteExpired(ctx); return err }, false},
		{"Clear", func(ctx context.Context, c *Cache) error { return c.Clear(ctx) }, false},
		{"Set", func(ctx context.Context, c *Cache) error { return c.Set(ctx, "k", []byte("1"), 0) }, true},
		{"Add", func(ctx context.Context, c *Cache) error {
			if ok, err := c.Add(ctx, "k", []byte("1"), 0); !ok || err != nil {
				return fmt.Errorf("Add = %v, %v; want true", ok, err)
			}
			return nil
		}, true},
		{"Increment", func(ctx context.Context, c *Cache) error {
			if n, err := c.Increment(ctx, "k", 1); n != 1 || err != nil {
				return fmt.Errorf("Increment = %d, %v; want 1", n, err)
			}
			return nil
		}, true},
	}
	for kind, mk := range kinds {
		for _, op := range ops {
			if op.write && kind == "folder" {
				continue
			}
			t.Run(kind+"/"+op.name, func(t *testing.T) {
				c := newCache(t, t.TempDir(), quiet)
				limit := max(2*time.Second, 20*yardstick(t, c))
				path, _ := c.locate("k")
				if err := mk(path); err != nil {
					t.Fatal(err)
				}
				// A reader blocked in open(2) returns once a writer opens
				// the FIFO too.
				unblock := func() {
					if fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
						syscall.Close(fd)
					}
				}
				err, _ := returnsWithin(t, op.name, limit, func() error { return op.call(t.Context(), c) }, unblock)
				if err != nil {
					t.Fatalf("%s with a %s in place of the entry: %v", op.name, kind, err)
				}
				if op.write {
					wantGet(t, c, "k", "1")
					return
				}
				if fi, err := os.Lstat(path); err != nil || fi.Mode().IsRegular() {
					t.Errorf("the %s was not left alone: %v, %v", kind, fi, err)
				}
			})
		}
	}
}

// createEntries has writers goroutines each create boundWrites new entries
// through the caches in turn, with Set, Add and Increment, under keys that
// start with prefix.
func createEntries(ctx context.Context, caches []*Cache, writers int, prefix string) error {
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		c := caches[w%len(caches)]
		wg.Go(func() {
			for i := range boundWrites {
				k := fmt.Sprintf("%s-%d-%d", prefix, w, i)
				var err error
				switch i % 3 {
				case 0:
					err = c.Set(ctx, k, []byte("v"), 0)
				case 1:
					_, err = c.Add(ctx, k, []byte("v"), 0)
				case 2:
					_, err = c.Increment(ctx, k, 1)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// peakEntries runs run while it samples the number of entry files in dir
// and the cache's count of them, and returns the largest of each. Each
// sample is taken holding every stripe lock, as a peer process could: no
// entry can be created or removed during it, so it is the exact number at
// one instant rather than a listing smeared over changes.
func peakEntries(t *testing.T, c *Cache, run func()) (files, count int64, samples int) {
	t.Helper()
	var stripes []*os.File
	for i := range numStripes {
		f, err := os.OpenFile(filepath.Join(c.dir, lockDirName, stripeFileName(i)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		stripes = append(stripes, f)
	}
	stop, sampled := make(chan struct{}), make(chan error, 1)
	go func() {
		sampled <- func() error {
			for {
				for _, f := range stripes {
					if err := flockBlocking(f); err != nil {
						return err
					}
				}
				ents, err := os.ReadDir(c.dir)
				n := int64(0)
				for _, e := range ents {
					if isEntryName(e.Name()) {
						n++
					}
				}
				files, count = max(files, n), max(count, c.sh.loadCount())
				samples++
				for _, f := range stripes {
					syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				}
				if err != nil {
					return err
				}
				select {
				case <-stop:
					return nil
				case <-time.After(time.Millisecond):
				}
			}
		}()
	}()
	run()
	close(stop)
	if err := <-sampled; err != nil {
		t.Fatal(err)
	}
	return files, count, samples
}

// TestThresholdBound has 8 goroutines create entries through two Caches
// on one folder: at no instant may the folder hold more than the threshold
// plus one entry per writer.
func TestThresholdBound(t *testing.T) {
	const writers = 8
	dir := t.TempDir()
	a := newCache(t, dir, WithThreshold(boundThreshold))
	b := newCache(t, dir, WithThreshold(boundThreshold))
	files, count, samples := peakEntries(t, a, func() {
		if err := createEntries(t.Context(), []*Cache{a, b}, writers, "w"); err != nil {
			t.Error(err)
		}
	})
	t.Logf("%d writers, threshold %d: peak %d entry files, peak count %d, in %d samples", writers, boundThreshold, files, count, samples)
	if limit := int64(boundThreshold + writers); files > limit || count > limit {
		t.Errorf("peak %d entry files (count %d), want at most threshold+writers = %d", files, count, limit)
	}
}

// TestThresholdBoundProcesses is TestThresholdBound with the writers in two
// processes of 4 each, sharing the count through the folder.
func TestThresholdBoundProcesses(t *testing.T) {
	const writers = 8
	dir := t.TempDir()
	c := newCache(t, dir, WithThreshold(boundThreshold))
	helpers := []*helper{
		startHelper(t, "write", dir, helperIDEnv+"=0"),
		startHelper(t, "write", dir, helperIDEnv+"=1"),
	}
	files, count, samples := peakEntries(t, c, func() {
		for _, h := range helpers {
			h.start(t)
		}
		for _, h := range helpers {
			h.wait(t)
		}
	})
	t.Logf("%d writers in 2 processes, threshold %d: peak %d entry files, peak count %d, in %d samples", writers, boundThreshold, files, count, samples)
	if limit := int64(boundThreshold + writers); files > limit || count > limit {
		t.Errorf("peak %d entry files (count %d), want at most threshold+writers = %d", files, count, limit)
	}
}
