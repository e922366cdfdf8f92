package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/session"
)

// errDown is what a store reports while recorder.down is set.
var errDown = errors.New("sessiontest: the store is down")

// recorder wraps the adapter under test: it counts what the manager asks of
// the store, remembers the session keys written, and can play a store that
// is down. It hides cache.Viewer, so every read is a counted Get.
type recorder struct {
	inner cache.Adapter
	down  atomic.Bool

	mu      sync.Mutex
	gets    int
	writes  int      // Set, Add and Delete calls, locks included
	setKeys []string // keys passed to Set, in order (locks are Added, not Set)
}

func (r *recorder) fail() error {
	if r.down.Load() {
		return errDown
	}
	return nil
}

func (r *recorder) count(get bool, setKey string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case get:
		r.gets++
	default:
		r.writes++
		if setKey != "" {
			r.setKeys = append(r.setKeys, setKey)
		}
	}
}

// counts returns the number of reads and writes so far.
func (r *recorder) counts() (gets, writes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gets, r.writes
}

// lastKey returns the key of the last session entry written.
func (r *recorder) lastKey(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.setKeys) == 0 {
		t.Fatal("no session entry was written")
	}
	return r.setKeys[len(r.setKeys)-1]
}

// has reports whether the store holds key, bypassing the counters.
func (r *recorder) has(t *testing.T, key string) bool {
	t.Helper()
	ok, err := r.inner.Has(t.Context(), key)
	if err != nil {
		t.Fatalf("Has(%q): %v", key, err)
	}
	return ok
}

// The cache.Adapter methods count the call, then fail while the store is
// down or pass it on.

func (r *recorder) Get(ctx context.Context, key string) ([]byte, error) {
	r.count(true, "")
	if err := r.fail(); err != nil {
		return nil, err
	}
	return r.inner.Get(ctx, key)
}

func (r *recorder) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	r.count(false, key)
	if err := r.fail(); err != nil {
		return err
	}
	return r.inner.Set(ctx, key, value, ttl)
}

func (r *recorder) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	r.count(false, "")
	if err := r.fail(); err != nil {
		return false, err
	}
	return r.inner.Add(ctx, key, value, ttl)
}

func (r *recorder) Delete(ctx context.Context, key string) (bool, error) {
	r.count(false, "")
	if err := r.fail(); err != nil {
		return false, err
	}
	return r.inner.Delete(ctx, key)
}

func (r *recorder) Has(ctx context.Context, key string) (bool, error) {
	r.count(true, "")
	if err := r.fail(); err != nil {
		return false, err
	}
	return r.inner.Has(ctx, key)
}

func (r *recorder) Clear(ctx context.Context) error {
	if err := r.fail(); err != nil {
		return err
	}
	return r.inner.Clear(ctx)
}

func (r *recorder) Close() error { return r.inner.Close() }

// sweepRecorder is the recorder of an adapter that is a cache.Sweeper.
type sweepRecorder struct {
	*recorder
	sweeps atomic.Int32
}

func (r *sweepRecorder) DeleteExpired(ctx context.Context) (int, error) {
	r.sweeps.Add(1)
	return r.inner.(cache.Sweeper).DeleteExpired(ctx)
}

// env is one subtest's world: an adapter, a manager over it, and a server
// running the test app behind the manager's middleware, with a client that
// keeps cookies like a browser.
type env struct {
	t      *testing.T
	h      *harness
	rec    *recorder
	store  cache.Adapter // rec, or its sweeping variant
	mgr    atomic.Pointer[session.Manager]
	extra  map[string]http.HandlerFunc
	srv    *httptest.Server
	client *http.Client
}

// newEnv starts an env whose manager has opts (after a fast sweep interval
// the harness sets, so sweeping is observable). extra adds app endpoints.
func (h *harness) newEnv(t *testing.T, extra map[string]http.HandlerFunc, opts ...session.Option) *env {
	t.Helper()
	a := h.newAdapter(t)
	rec := &recorder{inner: a}
	e := &env{t: t, h: h, rec: rec, store: rec, extra: extra}
	if _, ok := a.(cache.Sweeper); ok {
		e.store = &sweepRecorder{recorder: rec}
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("closing the adapter: %v", err)
		}
	})
	e.use(opts...)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mgr.Load().Middleware(http.HandlerFunc(e.app)).ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.client = e.newClient()
	return e
}

func (e *env) newClient() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	// The server's own transport: closing a server closes the idle
	// connections of http.DefaultTransport, which would break the
	// requests of parallel tests sharing it.
	return &http.Client{Jar: jar, Transport: e.srv.Client().Transport, Timeout: 30 * time.Second}
}

// use replaces the manager with one configured by opts, on the same store.
func (e *env) use(opts ...session.Option) *session.Manager {
	m := session.NewManager(e.store, opts...)
	e.t.Cleanup(func() { m.Close() })
	if old := e.mgr.Swap(m); old != nil {
		old.Close()
	}
	return m
}

// app is the test application. Values come from the query: /set?k=a&v=1&k=b&v=2.
func (e *env) app(w http.ResponseWriter, r *http.Request) {
	if h, ok := e.extra[r.URL.Path]; ok {
		h(w, r)
		return
	}
	m := e.mgr.Load()
	q := r.URL.Query()
	k, v := q.Get("k"), q.Get("v")
	s := session.FromContext(r.Context())
	switch r.URL.Path {
	case "/plain":
		io.WriteString(w, "no session used")
	case "/get":
		if x, ok := s.Get(k); ok {
			fmt.Fprint(w, x)
		} else {
			io.WriteString(w, "<none>")
		}
	case "/set":
		for i, key := range q["k"] {
			s.Set(key, q["v"][i])
		}
		io.WriteString(w, "ok")
	case "/setslow":
		// Everyone loads the session, then waits for the others to load
		// it too, then writes: the worst case for lost updates.
		time.Sleep(50 * time.Millisecond)
		s.Set(k, v)
	case "/delete":
		s.Delete(k)
	case "/deleteslow":
		time.Sleep(50 * time.Millisecond)
		s.Delete(k)
	case "/pop":
		x, ok := s.Pop(k)
		fmt.Fprintf(w, "%v %v", x, ok)
	case "/clear":
		s.Clear()
	case "/keys":
		io.WriteString(w, strings.Join(s.Keys(), ","))
	case "/len":
		fmt.Fprint(w, s.Len())
	case "/id":
		io.WriteString(w, s.ID())
	case "/isnew":
		fmt.Fprint(w, s.IsNew())
	case "/permanent":
		s.SetPermanent(q.Get("on") == "true")
		s.Set(k, v)
	case "/regenerate":
		if err := m.Regenerate(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	case "/destroy":
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if k != "" {
			s.Set(k, v)
		}
	case "/late":
		// The response starts, then the session changes.
		io.WriteString(w, "started")
		if err := http.NewResponseController(w).Flush(); err != nil {
			e.t.Errorf("Flush through the session writer: %v", err)
		}
		s.Set(k, v)
		if err := m.Regenerate(r.Context()); !errors.Is(err, session.ErrResponseStarted) {
			e.t.Errorf("Regenerate after the response started = %v, want ErrResponseStarted", err)
		}
	default:
		http.NotFound(w, r)
	}
}

// result is what a request got back.
type result struct {
	status int
	body   string
	header http.Header
	// cookie is the session cookie the response set, or nil.
	cookie *http.Cookie
}

func (e *env) cookieName() string {
	// Every test uses the default name, which FlaskCompatible keeps.
	return session.DefaultCookieName
}

// get sends a request with the client's cookies.
func (e *env) get(path string) result {
	e.t.Helper()
	return e.send(e.client, path, "")
}

// getWith sends a request carrying exactly the given cookie value, without
// the client's jar.
func (e *env) getWith(cookieValue, path string) result {
	e.t.Helper()
	return e.send(&http.Client{Transport: e.srv.Client().Transport, Timeout: 30 * time.Second}, path, cookieValue)
}

func (e *env) send(c *http.Client, path, cookieValue string) result {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if cookieValue != "" {
		req.AddCookie(&http.Cookie{Name: e.cookieName(), Value: cookieValue})
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	res := result{status: resp.StatusCode, body: string(body), header: resp.Header}
	for _, ck := range resp.Cookies() {
		if ck.Name == e.cookieName() {
			res.cookie = ck
		}
	}
	return res
}

// must sends a request that has to succeed.
func (e *env) must(path string) result {
	e.t.Helper()
	res := e.get(path)
	if res.status != http.StatusOK {
		e.t.Fatalf("GET %s: status %d, body %q", path, res.status, res.body)
	}
	return res
}

// jarCookie returns the session cookie value the client holds.
func (e *env) jarCookie() string {
	e.t.Helper()
	for _, c := range e.client.Jar.Cookies(mustURL(e.t, e.srv.URL)) {
		if c.Name == e.cookieName() {
			return c.Value
		}
	}
	e.t.Fatal("the client holds no session cookie")
	return ""
}
