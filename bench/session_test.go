package bench

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/session"
)

// The session benchmarks time one request through the session middleware,
// ours on memorycache against scs's LoadAndSave on its memstore: the
// request carries the cookie of a stored session (a user id, a name, a CSRF
// token and a list of roles, what a logged-in session holds) and the handler
// either reads the user id or counts a visit. Both managers keep their
// defaults, except that our cookie is not re-sent on read-only requests,
// which scs never does. The response writer is reused, so the numbers are
// the middleware's.

// benchWriter is a ResponseWriter that keeps nothing but its headers.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

func (w *benchWriter) cookie(b testing.TB, name string) string {
	resp := http.Response{Header: w.h}
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	b.Fatalf("no %s cookie in %v", name, w.h)
	return ""
}

var benchRoles = []string{"admin", "editor"}

// serveLoop runs the request through h b.N times.
func serveLoop(b *testing.B, h http.Handler, cookieName, cookie string) {
	req, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	w := &benchWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// countingAdapter counts the writes a manager makes.
type countingAdapter struct {
	cache.Adapter
	writes int
}

func (c *countingAdapter) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	c.writes++
	return c.Adapter.Set(ctx, k, v, ttl)
}

func (c *countingAdapter) Add(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	c.writes++
	return c.Adapter.Add(ctx, k, v, ttl)
}

func (c *countingAdapter) Delete(ctx context.Context, k string) (bool, error) {
	c.writes++
	return c.Adapter.Delete(ctx, k)
}

// newSessionManager returns our manager on a for the benchmarks, and the
// cookie of a stored, logged-in session.
func newSessionManager(b testing.TB, a cache.Adapter, opts ...session.Option) (*session.Manager, string) {
	m := session.NewManager(a, opts...)
	b.Cleanup(func() { m.Close() })
	w := &benchWriter{h: make(http.Header)}
	req, _ := http.NewRequest(http.MethodGet, "/login", nil)
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("user_id", 42)
		s.Set("name", "Ada Lovelace")
		s.Set("csrf", "c3f1e4b2a9d8c3f1e4b2a9d8c3f1e4b2")
		s.Set("roles", benchRoles)
	})).ServeHTTP(w, req)
	return m, w.cookie(b, session.DefaultCookieName)
}

func newSCS(b *testing.B) (*scs.SessionManager, string) {
	sm := scs.New()
	store := memstore.New()
	b.Cleanup(store.StopCleanup)
	sm.Store = store
	w := &benchWriter{h: make(http.Header)}
	req, _ := http.NewRequest(http.MethodGet, "/login", nil)
	sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sm.Put(ctx, "user_id", 42)
		sm.Put(ctx, "name", "Ada Lovelace")
		sm.Put(ctx, "csrf", "c3f1e4b2a9d8c3f1e4b2a9d8c3f1e4b2")
		sm.Put(ctx, "roles", benchRoles)
	})).ServeHTTP(w, req)
	return sm, w.cookie(b, sm.Cookie.Name)
}

func newSessionMemorycache(b testing.TB) *memorycache.Cache {
	c, err := memorycache.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// readHandler reads the user id, as an authenticated page does.
func readHandler(b *testing.B) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, _, err := session.GetAs[int](session.FromContext(r.Context()), "user_id"); id != 42 || err != nil {
			b.Fatalf("user_id = %d, %v", id, err)
		}
	})
}

// writeHandler counts a visit.
func writeHandler(b *testing.B) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _, err := session.GetAs[int](s, "visits")
		if err != nil {
			b.Fatal(err)
		}
		s.Set("visits", n+1)
	})
}

func BenchmarkSessionRead(b *testing.B) {
	b.Run("cachelib", func(b *testing.B) {
		m, cookie := newSessionManager(b, newSessionMemorycache(b), session.WithRefreshEachRequest(false))
		serveLoop(b, m.Middleware(readHandler(b)), session.DefaultCookieName, cookie)
	})
	b.Run("cachelib-refresh", func(b *testing.B) {
		// The default: the cookie is re-sent on every response.
		m, cookie := newSessionManager(b, newSessionMemorycache(b))
		serveLoop(b, m.Middleware(readHandler(b)), session.DefaultCookieName, cookie)
	})
	b.Run("scs", func(b *testing.B) {
		sm, cookie := newSCS(b)
		h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := sm.GetInt(r.Context(), "user_id"); id != 42 {
				b.Fatalf("user_id = %d", id)
			}
		}))
		serveLoop(b, h, sm.Cookie.Name, cookie)
	})
}

func BenchmarkSessionWrite(b *testing.B) {
	b.Run("cachelib", func(b *testing.B) {
		m, cookie := newSessionManager(b, newSessionMemorycache(b), session.WithRefreshEachRequest(false))
		serveLoop(b, m.Middleware(writeHandler(b)), session.DefaultCookieName, cookie)
	})
	b.Run("scs", func(b *testing.B) {
		sm, cookie := newSCS(b)
		h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			sm.Put(ctx, "visits", sm.GetInt(ctx, "visits")+1)
		}))
		serveLoop(b, h, sm.Cookie.Name, cookie)
	})
}

// The read-only request of BenchmarkSessionRead writes nothing to the store,
// with refresh each request off as there, and on (the default): its expiry
// is absolute, so only the cookie is re-sent.
func TestSessionReadOnlyRequestWritesNothing(t *testing.T) {
	for _, refresh := range []bool{false, true} {
		store := &countingAdapter{Adapter: newSessionMemorycache(t)}
		m, cookie := newSessionManager(t, store, session.WithRefreshEachRequest(refresh))
		store.writes = 0
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: cookie})
		for range 100 {
			m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if id, _, err := session.GetAs[int](session.FromContext(r.Context()), "user_id"); id != 42 || err != nil {
					t.Fatalf("user_id = %d, %v", id, err)
				}
			})).ServeHTTP(&benchWriter{h: make(http.Header)}, req)
		}
		if store.writes != 0 {
			t.Errorf("refresh each request %v: 100 read-only requests made %d store writes, want 0", refresh, store.writes)
		}
	}
}
