package filecache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

// newCache opens a Cache on dir that is closed when the test ends, and
// skips the test where the package is not supported.
func newCache(t testing.TB, dir string, opts ...Option) *Cache {
	t.Helper()
	c, err := New(dir, opts...)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Adapter { return newCache(t, t.TempDir()) })
}

// BenchmarkAdapter runs the benchmarks every adapter shares. The threshold
// is above their 1,024 keys, so pruning does not shape the results.
func BenchmarkAdapter(b *testing.B) {
	cachetest.RunBenchmarks(b, func(b *testing.B) cache.Adapter { return newCache(b, b.TempDir(), WithThreshold(4096)) })
}

// pair is one cache made of two Caches on the same folder: every call goes
// to the next of the two in turn, so a value written through one is read,
// overwritten, added over and counted through the other.
type pair struct {
	c [2]*Cache
	n atomic.Uint32
}

func (p *pair) next() *Cache { return p.c[p.n.Add(1)%2] }

func (p *pair) Get(ctx context.Context, k string) ([]byte, error) { return p.next().Get(ctx, k) }
func (p *pair) Has(ctx context.Context, k string) (bool, error)   { return p.next().Has(ctx, k) }
func (p *pair) Delete(ctx context.Context, k string) (bool, error) {
	return p.next().Delete(ctx, k)
}
func (p *pair) Clear(ctx context.Context) error { return p.next().Clear(ctx) }
func (p *pair) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	return p.next().Set(ctx, k, v, ttl)
}
func (p *pair) Add(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	return p.next().Add(ctx, k, v, ttl)
}
func (p *pair) Increment(ctx context.Context, k string, d int64) (int64, error) {
	return p.next().Increment(ctx, k, d)
}
func (p *pair) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	return p.next().GetMany(ctx, keys)
}
func (p *pair) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	return p.next().SetMany(ctx, items, ttl)
}
func (p *pair) DeleteMany(ctx context.Context, keys []string) (int, error) {
	return p.next().DeleteMany(ctx, keys)
}
func (p *pair) DeleteExpired(ctx context.Context) (int, error) { return p.next().DeleteExpired(ctx) }
func (p *pair) Close() error                                   { return errors.Join(p.c[0].Close(), p.c[1].Close()) }

func TestConformanceTwoInstances(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Adapter {
		dir := t.TempDir()
		return &pair{c: [2]*Cache{newCache(t, dir), newCache(t, dir)}}
	})
}

func TestSharedFolder(t *testing.T) {
	dir := t.TempDir()
	a, b := newCache(t, dir), newCache(t, dir)
	ctx := t.Context()
	if err := a.Set(ctx, "k", []byte("from a"), 0); err != nil {
		t.Fatal(err)
	}
	wantGet(t, b, "k", "from a")
	if ok, err := b.Add(ctx, "k", []byte("from b"), 0); ok || err != nil {
		t.Fatalf("b.Add over a's entry = %v, %v; want false", ok, err)
	}
	if ok, err := b.Delete(ctx, "k"); !ok || err != nil {
		t.Fatalf("b.Delete of a's entry = %v, %v; want true", ok, err)
	}
	wantMissing(t, a, "k")

	// Adds racing through both instances: exactly one wins each key, and
	// Increments through both lose nothing.
	const rounds, workers = 20, 8
	var wins [rounds]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		c := []*Cache{a, b}[w%2]
		wg.Go(func() {
			for r := range rounds {
				ok, err := c.Add(ctx, fmt.Sprintf("race-%d", r), []byte("v"), 0)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					wins[r].Add(1)
				}
				if _, err := c.Increment(ctx, "n", 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for r := range rounds {
		if n := wins[r].Load(); n != 1 {
			t.Errorf("race-%d: %d Adds won, want 1", r, n)
		}
	}
	wantGet(t, a, "n", fmt.Sprint(rounds*workers))
	if got, want := a.sh.loadCount(), int64(rounds+1); got != want {
		t.Errorf("count = %d, want %d", got, want)
	}
	wantNoTemp(t, dir)
}

// helperEnv selects what TestHelperProcess does when a test runs this test
// binary again as another process; helperDirEnv is the folder it works on.
const (
	helperEnv    = "FILECACHE_TEST_HELPER"
	helperDirEnv = "FILECACHE_TEST_HELPER_DIR"
	helperIDEnv  = "FILECACHE_TEST_HELPER_ID"
	childOps     = 300
)

// TestHelperProcess is not a test: it is what startHelper runs in a child
// process. It says "ready" on stdout once its cache is open and waits for a
// line on stdin before it starts, so that the parent can line several
// children up.
func TestHelperProcess(t *testing.T) {
	role, dir := os.Getenv(helperEnv), os.Getenv(helperDirEnv)
	if role == "" {
		t.Skip("run by other tests in a child process")
	}
	fn := helperRoles[role]
	if fn == nil {
		t.Fatalf("unknown helper role %q", role)
	}
	fn(t, dir)
}

// helperRoles are the things a helper process can do. Roles that need unix
// system calls add themselves from a unix-only file.
var helperRoles = map[string]func(t *testing.T, dir string){
	// "race" does the same Increments as its sibling and races it for the
	// same Add keys, in the same order, printing the keys it won.
	"race": func(t *testing.T, dir string) {
		// No threshold: pruning would evict race keys and let them be won
		// twice.
		c, err := New(dir, WithThreshold(0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		awaitStart(t)
		ctx := context.Background()
		id := os.Getenv(helperIDEnv)
		for i := range childOps {
			if _, err := c.Increment(ctx, "counter", 1); err != nil {
				t.Fatal(err)
			}
			ok, err := c.Add(ctx, fmt.Sprintf("race-%d", i), []byte(id), 0)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				fmt.Printf("won %d\n", i)
			}
		}
	},
}

// awaitStart says "ready" and waits for the parent's start signal.
func awaitStart(t *testing.T) {
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatalf("waiting for the start signal: %v", err)
	}
}

// helper is a child process running TestHelperProcess.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, line by line, closed at its end
	stderr bytes.Buffer
}

// startHelper starts a helper process in role on dir, with extra
// environment variables, and waits until it is ready. The process is
// killed when the test ends, if it is still running.
func startHelper(t *testing.T, role, dir string, env ...string) *helper {
	t.Helper()
	if os.Getenv(helperEnv) != "" {
		t.Skip("a helper does not start helpers")
	}
	h := &helper{lines: make(chan string, 64)}
	h.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	h.cmd.Env = append(os.Environ(), append(env, helperEnv+"="+role, helperDirEnv+"="+dir)...)
	h.cmd.Stderr = &h.stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		h.cmd.Wait()
	})
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	h.expect(t, "ready")
	return h
}

// expect waits for the helper's next line and fails the test unless it is
// want.
func (h *helper) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case line, ok := <-h.lines:
		if !ok || line != want {
			t.Fatalf("helper said %q (more: %v), want %q; stderr:\n%s", line, ok, want, &h.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("helper did not say %q within a minute", want)
	}
}

// start sends the start signal.
func (h *helper) start(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the helper to exit, fails the test if it failed, and
// returns the rest of its output.
func (h *helper) wait(t *testing.T) []string {
	t.Helper()
	var out []string
	for line := range h.lines {
		out = append(out, line)
	}
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(out, "\n"), &h.stderr)
	}
	return out
}

// TestTwoProcesses runs two helper processes that share one folder: each
// does the same Increments and races the other for the same Add keys.
func TestTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	// Opened before the children, this instance sees their writes only
	// through the shared counter.
	c := newCache(t, dir, WithThreshold(0))
	// Both children are running and have opened the cache before either
	// starts, so their operations overlap.
	children := []*helper{
		startHelper(t, "race", dir, helperIDEnv+"=0"),
		startHelper(t, "race", dir, helperIDEnv+"=1"),
	}
	for _, ch := range children {
		ch.start(t)
	}
	won := make(map[string]int)
	winner := make(map[string]string)
	for id, ch := range children {
		for _, line := range ch.wait(t) {
			if k, ok := strings.CutPrefix(strings.TrimSpace(line), "won "); ok {
				won[k]++
				winner[k] = fmt.Sprint(id)
			}
		}
	}
	perChild := make(map[string]int)
	for _, id := range winner {
		perChild[id]++
	}
	t.Logf("race keys won per child: %v", perChild)
	wantGet(t, c, "counter", fmt.Sprint(2*childOps))
	for i := range childOps {
		k := fmt.Sprint(i)
		if won[k] != 1 {
			t.Errorf("race-%d was won %d times, want exactly once", i, won[k])
			continue
		}
		wantGet(t, c, "race-"+k, winner[k])
	}
	if got, want := c.sh.loadCount(), int64(childOps+1); got != want {
		t.Errorf("shared count = %d, want %d", got, want)
	}
	if n := countEntryFiles(t, dir); n != childOps+1 {
		t.Errorf("%d entry files, want %d", n, childOps+1)
	}
	wantNoTemp(t, dir)
}

// TestForeignFilesSurvive puts files the cache did not write into its
// folder, one of them named exactly like an entry, and checks that neither
// Clear nor DeleteExpired nor a Get of that entry's key touches them.
func TestForeignFilesSurvive(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	c := newCache(t, dir, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	ctx := t.Context()
	lookalike, _ := c.locate("lookalike")
	foreign := map[string]string{
		filepath.Join(dir, "notes.txt"):                   "notes",
		filepath.Join(dir, "README"):                      "",
		filepath.Join(dir, "sub", "nested.fc"):            "nested",
		filepath.Join(dir, strings.Repeat("a", 64)+".FC"): "upper-case suffix",
		filepath.Join(dir, ".fc-tmp-notours"):             "temp-like name",
		lookalike:                                         "named like an entry but without the magic",
	}
	for path, content := range foreign {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, ".fc-tmp-notours"), old, old); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := c.Set(ctx, fmt.Sprint(i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	wantMissing(t, c, "lookalike")
	if !strings.Contains(logs.String(), "not written by filecache") {
		t.Errorf("foreign file in place of an entry not logged; logs:\n%s", logs)
	}
	if _, err := c.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		wantMissing(t, c, fmt.Sprint(i))
	}
	for path, content := range foreign {
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("foreign file %s after Clear: %q, %v; want %q", path, got, err, content)
		}
	}
	// The look-alike still has an entry name, so it is still counted.
	if got := c.sh.loadCount(); got != 1 {
		t.Errorf("count after Clear = %d, want 1 (the look-alike)", got)
	}
	// A Set of its key replaces it: the name belongs to that key.
	if err := c.Set(ctx, "lookalike", []byte("mine"), 0); err != nil {
		t.Fatal(err)
	}
	wantGet(t, c, "lookalike", "mine")
}

// corruptions damage an entry file holding the value "0123456789".
var corruptions = []struct {
	name   string
	damage func(b []byte) []byte
}{
	{"value bit flip", func(b []byte) []byte { b[headerSize+3] ^= 1; return b }},
	{"expiry bit flip", func(b []byte) []byte { b[9] ^= 1; return b }},
	{"length bit flip", func(b []byte) []byte { b[24] ^= 2; return b }},
	{"value truncated", func(b []byte) []byte { return b[:headerSize+3] }},
	{"value missing", func(b []byte) []byte { return b[:headerSize] }},
	{"header truncated", func(b []byte) []byte { return b[:20] }},
	{"magic truncated", func(b []byte) []byte { return b[:2] }},
	{"empty", func(b []byte) []byte { return b[:0] }},
	{"trailing data", func(b []byte) []byte { return append(b, "more"...) }},
	{"future version", func(b []byte) []byte { b[4] = 2; return b }},
	{"reserved bits", func(b []byte) []byte { b[6] = 1; return b }},
}

func TestCorruptFiles(t *testing.T) {
	for _, tc := range corruptions {
		for _, op := range []string{"Get", "Has", "Delete", "Add", "Increment", "GetMany", "DeleteExpired"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				logs := &syncBuffer{}
				c := newCache(t, t.TempDir(), WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
				ctx := t.Context()
				if err := c.Set(ctx, "k", []byte("0123456789"), time.Hour); err != nil {
					t.Fatal(err)
				}
				path, _ := c.locate("k")
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, tc.damage(b), 0o600); err != nil {
					t.Fatal(err)
				}
				switch op {
				case "Get":
					v, err := c.Get(ctx, "k")
					if !errors.Is(err, cache.ErrNotFound) || v != nil {
						t.Fatalf("Get of a damaged entry = %q, %v; want a miss", v, err)
					}
				case "Has":
					if ok, err := c.Has(ctx, "k"); ok || err != nil {
						t.Fatalf("Has of a damaged entry = %v, %v; want false", ok, err)
					}
				case "Delete":
					if ok, err := c.Delete(ctx, "k"); ok || err != nil {
						t.Fatalf("Delete of a damaged entry = %v, %v; want false", ok, err)
					}
				case "Add":
					if ok, err := c.Add(ctx, "k", []byte("new"), 0); !ok || err != nil {
						t.Fatalf("Add over a damaged entry = %v, %v; want true", ok, err)
					}
					wantGet(t, c, "k", "new")
					return
				case "Increment":
					if n, err := c.Increment(ctx, "k", 5); n != 5 || err != nil {
						t.Fatalf("Increment of a damaged entry = %d, %v; want 5 (counted as missing)", n, err)
					}
					wantGet(t, c, "k", "5")
					return
				case "GetMany":
					if hits, err := c.GetMany(ctx, []string{"k"}); len(hits) != 0 || err != nil {
						t.Fatalf("GetMany of a damaged entry = %q, %v; want no hits", hits, err)
					}
				case "DeleteExpired":
					if n, err := c.DeleteExpired(ctx); n != 0 || err != nil {
						t.Fatalf("DeleteExpired = %d, %v; want 0 (damaged entries are not counted as expired)", n, err)
					}
					if tc.name == "value bit flip" || tc.name == "value truncated" || tc.name == "value missing" || tc.name == "trailing data" {
						// A sweep reads headers only; the next read finds these.
						wantMissing(t, c, "k")
					}
				}
				if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("damaged file still there after %s (stat: %v)", op, err)
				}
				if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "damaged") {
					t.Errorf("damaged file not logged at warn level; logs:\n%s", logs)
				}
				if got := c.sh.loadCount(); got != 0 {
					t.Errorf("count = %d after the damaged entry was removed, want 0", got)
				}
			})
		}
	}
}

// TestRemoveIfSame checks the re-check that guards every removal of an
// expired or damaged file: a value renamed in after the file was read is
// never deleted.
func TestRemoveIfSame(t *testing.T) {
	c := newCache(t, t.TempDir())
	ctx := t.Context()
	if err := c.Set(ctx, "k", []byte("old"), MinTTL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * MinTTL)
	path, stripe := c.locate("k")
	l, err := c.load(path, time.Now().UnixNano(), false, true)
	if err != nil || l.st != stExpired || !l.kept {
		t.Fatalf("load of an expired entry = %+v, %v", l, err)
	}
	// A writer renames a fresh value in between the read and the removal.
	if err := c.Set(ctx, "k", []byte("fresh"), 0); err != nil {
		t.Fatal(err)
	}
	removed, err := c.removeIfSame(c.budget(ctx), path, stripe, l.f)
	if removed || err != nil {
		t.Fatalf("removeIfSame after a concurrent Set = %v, %v; want false, nil", removed, err)
	}
	wantGet(t, c, "k", "fresh")

	// The same holds for pruning's re-check, which compares headers.
	l, err = c.peek(path, time.Now().UnixNano(), new([headerSize]byte), false)
	if err != nil || l.st != stLive {
		t.Fatalf("peek = %+v, %v", l, err)
	}
	if err := c.Set(ctx, "k", []byte("fresher"), 0); err != nil {
		t.Fatal(err)
	}
	removed, err = c.removeIfUnchanged(c.budget(ctx), path, stripe, l.h, new([headerSize]byte))
	if removed || err != nil {
		t.Fatalf("removeIfUnchanged after a concurrent Set = %v, %v; want false, nil", removed, err)
	}
	wantGet(t, c, "k", "fresher")
}

func TestPruneOrder(t *testing.T) {
	dir := t.TempDir()
	c := newCache(t, dir, WithThreshold(10)) // prunes to 9
	ctx := t.Context()
	set := func(k string, ttl time.Duration) {
		t.Helper()
		if err := c.Set(ctx, k, []byte(k), ttl); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		set(fmt.Sprint("expired", i), MinTTL)
	}
	time.Sleep(10 * MinTTL)
	for i := range 4 {
		set(fmt.Sprint("never", i), 0)
	}
	for i := range 4 {
		set(fmt.Sprint("ttl", i), time.Hour+time.Duration(i)*time.Minute)
	}
	// The 11th entry would take the count over 10: the expired ones make
	// room enough.
	wantFiles(t, c, []string{"expired0", "expired1", "expired2"}, []string{"never0", "never1", "never2", "never3", "ttl0", "ttl1", "ttl2", "ttl3"})
	wantCount(t, c, 8)

	set("ttl4", 2*time.Hour)
	set("never4", 0)
	set("never5", 0) // 11 again: the two that expire soonest make room
	wantFiles(t, c, []string{"ttl0", "ttl1"}, []string{"ttl2", "ttl3", "ttl4", "never0", "never1", "never2", "never3", "never4", "never5"})
	wantCount(t, c, 9)

	// Overwrites do not count as new entries and do not prune.
	for range 3 {
		set("never5", 0)
	}
	wantCount(t, c, 9)

	// Entries with a TTL go first, then the oldest never-expiring ones. The
	// entry being written is not among them: the cache prunes before
	// creating it.
	c2 := newCache(t, t.TempDir(), WithThreshold(3)) // prunes to 2
	for _, k := range []string{"n0", "t0", "n1", "n2"} {
		ttl := time.Duration(0)
		if k[0] == 't' {
			ttl = time.Hour
		}
		if err := c2.Set(ctx, k, []byte(k), ttl); err != nil {
			t.Fatal(err)
		}
	}
	wantFiles(t, c2, []string{"t0", "n0"}, []string{"n1", "n2"})
	wantCount(t, c2, 2)
}

func TestCount(t *testing.T) {
	dir := t.TempDir()
	c := newCache(t, dir, WithThreshold(0))
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "c"} {
		must(c.Set(ctx, k, []byte(k), 0))
	}
	wantCount(t, c, 3)
	must(c.Set(ctx, "a", []byte("again"), 0))
	wantCount(t, c, 3)
	_, err := c.Delete(ctx, "b")
	must(err)
	_, err = c.Delete(ctx, "b")
	must(err)
	wantCount(t, c, 2)
	_, err = c.Add(ctx, "a", []byte("x"), 0)
	must(err)
	_, err = c.Add(ctx, "d", []byte("x"), 0)
	must(err)
	wantCount(t, c, 3)
	_, err = c.Increment(ctx, "e", 1)
	must(err)
	_, err = c.Increment(ctx, "e", 1)
	must(err)
	wantCount(t, c, 4)

	// An expired entry found by a read is removed and uncounted; one
	// replaced by Add or Increment is not counted twice.
	must(c.Set(ctx, "short1", []byte("x"), MinTTL))
	must(c.Set(ctx, "short2", []byte("x"), MinTTL))
	must(c.Set(ctx, "short3", []byte("1"), MinTTL))
	wantCount(t, c, 7)
	time.Sleep(10 * MinTTL)
	wantMissing(t, c, "short1")
	wantCount(t, c, 6)
	if ok, err := c.Add(ctx, "short2", []byte("y"), 0); !ok || err != nil {
		t.Fatalf("Add over expired = %v, %v", ok, err)
	}
	_, err = c.Increment(ctx, "short3", 1)
	must(err)
	wantCount(t, c, 6)

	must(c.SetMany(ctx, map[string][]byte{"m1": nil, "m2": nil, "a": nil}, 0))
	wantCount(t, c, 8)
	_, err = c.DeleteMany(ctx, []string{"m1", "m2", "zz"})
	must(err)
	wantCount(t, c, 6)

	// A second instance sees the same count, and a rescan agrees.
	c2 := newCache(t, dir)
	wantCount(t, c2, 6)
	must(c2.Set(ctx, "from c2", nil, 0))
	wantCount(t, c, 7)
	must(c.Set(ctx, "gone", nil, MinTTL))
	time.Sleep(10 * MinTTL)
	if n, err := c.DeleteExpired(ctx); n != 1 || err != nil {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	wantCount(t, c, 7)

	// A count gone wrong (say, a file copied in by hand) is put right by
	// the next scan.
	c.sh.storeCount(100)
	_, err = c.DeleteExpired(ctx)
	must(err)
	wantCount(t, c, 7)
	must(c.Clear(ctx))
	wantCount(t, c2, 0)
}

// TestCountConcurrent mixes every writing operation from goroutines on two
// instances: without scans to correct it, the shared count must still match
// the files exactly. With a small threshold, concurrent pruning must keep
// the folder within it and never fail a write.
func TestCountConcurrent(t *testing.T) {
	for _, threshold := range []int{0, 20} {
		t.Run(fmt.Sprint("threshold ", threshold), func(t *testing.T) {
			dir := t.TempDir()
			a := newCache(t, dir, WithThreshold(threshold))
			b := newCache(t, dir, WithThreshold(threshold))
			const writers = 8
			var wg sync.WaitGroup
			for w := range writers {
				c := []*Cache{a, b}[w%2]
				wg.Go(func() {
					ctx := t.Context()
					for i := range 200 {
						k := fmt.Sprint((i*7 + w*13) % 50)
						var err error
						switch (i + w) % 5 {
						case 0, 1:
							err = c.Set(ctx, k, []byte("v"), 0)
						case 2:
							_, err = c.Delete(ctx, k)
						case 3:
							_, err = c.Add(ctx, k, []byte("v"), time.Hour)
						case 4:
							_, err = c.Increment(ctx, "n"+k, 1)
						}
						if err != nil && !errors.Is(err, cache.ErrNotInteger) {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			files := countEntryFiles(t, dir)
			if threshold == 0 {
				if got := a.sh.loadCount(); got != int64(files) {
					t.Fatalf("count = %d, but %d entry files", got, files)
				}
				return
			}
			// Without pruning there would be 100 files. Writes that
			// were admitted below the threshold may still create their
			// entries after it is reached, one per writer at most.
			if files > threshold+writers {
				t.Errorf("%d entry files, threshold %d, %d writers", files, threshold, writers)
			}
			t.Logf("%d entry files, count %d, threshold %d", files, a.sh.loadCount(), threshold)
			if _, err := a.DeleteExpired(t.Context()); err != nil {
				t.Fatal(err)
			}
			wantCount(t, b, int64(files))
		})
	}
}

// TestCounterWord checks the shared counter's change sequence: a scan's
// result is stored only when nothing but its own removals happened while it
// ran, including changes that cancel out.
func TestCounterWord(t *testing.T) {
	sh := newCache(t, t.TempDir()).sh
	sh.storeCount(0)
	if got := sh.addCount(-1); got != -1 {
		t.Fatalf("0 - 1 = %d", got)
	}
	if got := sh.addCount(2); got != 1 {
		t.Fatalf("-1 + 2 = %d", got)
	}
	before := sh.snapshot()
	sh.addCount(1)
	sh.addCount(-1)
	if sh.reconcile(before, 0, 5) {
		t.Fatal("reconcile stored a scan's count over changes that cancelled out")
	}
	for _, start := range []int64{0, 1, 10} { // from 0, a removal borrows
		sh.storeCount(start)
		before = sh.snapshot()
		sh.addCount(-1)
		sh.addCount(-1)
		if !sh.reconcile(before, 2, 5) || sh.loadCount() != 5 {
			t.Fatalf("from %d: reconcile after only the scan's own removals failed; count %d", start, sh.loadCount())
		}
	}
	// Of two scans that overlap, the second to finish does not store.
	first, second := sh.snapshot(), sh.snapshot()
	if !sh.reconcile(first, 0, 7) || sh.reconcile(second, 0, 8) || sh.loadCount() != 7 {
		t.Fatalf("overlapping reconciles: count %d, want 7", sh.loadCount())
	}
}

func TestJanitor(t *testing.T) {
	before := runtime.NumGoroutine()
	c, err := New(t.TempDir(), WithJanitor(5*time.Millisecond))
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := c.Set(ctx, "short", []byte("x"), MinTTL); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "keep", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	path, _ := c.locate("short")
	// Nothing reads the key, so only the janitor can remove it.
	waitFor(t, "the janitor to remove the expired file", func() bool {
		_, err := os.Stat(path)
		return errors.Is(err, fs.ErrNotExist)
	})
	wantGet(t, c, "keep", "x")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.janitorDone:
	default:
		t.Fatal("Close returned before the janitor stopped")
	}
	waitFor(t, "the goroutine count to drop back", func() bool { return runtime.NumGoroutine() <= before })
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.DeleteExpired(ctx); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("DeleteExpired after Close: %v, want cache.ErrClosed", err)
	}
}

func TestTempFiles(t *testing.T) {
	dir := t.TempDir()
	c := newCache(t, dir)
	ctx := t.Context()
	stale := filepath.Join(dir, tempPrefix+"0123456789abcdef")
	fresh := filepath.Join(dir, tempPrefix+"fedcba9876543210")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := c.DeleteExpired(ctx); n != 0 || err != nil {
		t.Fatalf("DeleteExpired = %d, %v; want 0 (temporary files are not entries)", n, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file survived DeleteExpired (stat: %v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file removed: %v", err)
	}
	if err := os.Remove(fresh); err != nil {
		t.Fatal(err)
	}

	// A write whose rename fails (here: a non-empty folder where the
	// entry should go) reports the error and leaves no temporary file.
	path, _ := c.locate("blocked")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "blocked", []byte("v"), 0); err == nil {
		t.Fatal("Set over a folder succeeded")
	}
	if err := cache.SetMany(ctx, c, map[string][]byte{"blocked": nil}, 0); err == nil {
		t.Fatal("SetMany over a folder succeeded")
	}
	wantNoTemp(t, dir)
}

func TestFileMode(t *testing.T) {
	// 0o660 is what a umask of 022 would narrow, had the mode not been
	// applied with chmod.
	for _, mode := range []fs.FileMode{DefaultMode, 0o660, 0o604} {
		dir := t.TempDir()
		c := newCache(t, dir, WithMode(mode))
		if err := c.Set(t.Context(), "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Add(t.Context(), "k", []byte("v"), 0); err != nil { // opens a stripe
			t.Fatal(err)
		}
		path, stripe := c.locate("k")
		for p, want := range map[string]fs.FileMode{
			path: mode,
			filepath.Join(dir, lockDirName, countFileName):                      mode,
			filepath.Join(dir, lockDirName, fmt.Sprintf("stripe-%02d", stripe)): mode,
			filepath.Join(dir, lockDirName):                                     dirMode(mode),
		} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("WithMode(%v): %s has mode %v, want %v", mode, p, got, want)
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	for _, opt := range []Option{WithThreshold(-1), WithJanitor(-time.Second), WithLockTimeout(0)} {
		if c, err := New(dir, opt); err == nil {
			c.Close()
			t.Errorf("New accepted an invalid option")
		}
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := New(file); err == nil {
		c.Close()
		t.Error("New on a regular file succeeded")
	}
	// New creates missing folders, with mode 0700.
	nested := filepath.Join(dir, "a", "b")
	newCache(t, nested)
	if fi, err := os.Stat(nested); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created folder: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

// TestTTLPrecision checks that expiry is not rounded to a coarse unit: an
// entry with a 30 ms TTL expires 30 ms after its Set, not at the next
// second.
func TestTTLPrecision(t *testing.T) {
	c := newCache(t, t.TempDir())
	cachetest.Expiring(t, 30*time.Millisecond, MinTTL, func(x *cachetest.Attempt) {
		start := time.Now()
		x.Set(c, "k", "v")
		end := time.Now()
		path, _ := c.locate("k")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if exp := time.Unix(0, h.expires); exp.Before(start.Add(x.TTL())) || exp.After(end.Add(x.TTL())) {
			t.Errorf("expiry is %v after the Set started, want the TTL %v plus at most the Set's %v", exp.Sub(start), x.TTL(), end.Sub(start))
		}
		x.Expire()
		cachetest.WantMiss(t, c, "k")
	})
}

// helpers

func wantGet(t *testing.T, c *Cache, key, want string) {
	t.Helper()
	got, err := c.Get(t.Context(), key)
	if err != nil || string(got) != want {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, got, err, want)
	}
}

func wantMissing(t *testing.T, c *Cache, key string) {
	t.Helper()
	if got, err := c.Get(t.Context(), key); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want a miss", key, got, err)
	}
}

func wantCount(t *testing.T, c *Cache, want int64) {
	t.Helper()
	if got := c.sh.loadCount(); got != want {
		t.Fatalf("count = %d, want %d", got, want)
	}
	if n := countEntryFiles(t, c.dir); int64(n) != want {
		t.Fatalf("%d entry files, want %d", n, want)
	}
}

// wantFiles checks which keys have files, without reading them through the
// cache (a read would remove expired ones).
func wantFiles(t *testing.T, c *Cache, gone, present []string) {
	t.Helper()
	for _, k := range gone {
		path, _ := c.locate(k)
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: file still there (stat: %v), want it pruned", k, err)
		}
	}
	for _, k := range present {
		path, _ := c.locate(k)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: %v, want the file kept", k, err)
		}
	}
}

func countEntryFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if isEntryName(e.Name()) {
			n++
		}
	}
	return n
}

func wantNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer that slog handlers on many goroutines may
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
