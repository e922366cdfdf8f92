package session_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/session"
)

func TestNewManagerRejectsBadOptions(t *testing.T) {
	mem := newMemory(t)
	cases := []struct {
		opts []session.Option
		want string
	}{
		{[]session.Option{session.WithCookieName("")}, "cookie name"},
		{[]session.Option{session.WithCookieName("a b")}, "cookie name"},
		{[]session.Option{session.WithIDLength(8)}, "id length"},
		{[]session.Option{session.WithLifetime(0)}, "lifetime"},
		{[]session.Option{session.WithIdleTimeout(-time.Second)}, "idle timeout"},
		{[]session.Option{session.WithSweepInterval(-time.Second)}, "sweep interval"},
		{[]session.Option{session.WithStoreTimeout(0)}, "store timeout"},
		{[]session.Option{session.WithCodec(nil)}, "codec"},
		{[]session.Option{session.WithSigningKeys(nil)}, "signing key 0 is empty"},
		{[]session.Option{session.FlaskCompatible("k"), session.WithCodec(session.MsgpackCodec{})}, "FlaskCompatible"},
		{[]session.Option{session.WithIDHashing(true), session.FlaskCompatible("k")}, "FlaskCompatible"},
	}
	for _, c := range cases {
		func() {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.Contains(msg, c.want) {
					t.Errorf("panic %q, want one mentioning %q", msg, c.want)
				}
			}()
			session.NewManager(mem, c.opts...)
		}()
	}
	func() {
		defer func() {
			if msg := fmt.Sprint(recover()); !strings.Contains(msg, "adapter is nil") {
				t.Errorf("nil adapter: panic %q", msg)
			}
		}()
		session.NewManager(nil)
	}()
}

func TestOutsideMiddleware(t *testing.T) {
	mem := newMemory(t)
	m := session.NewManager(mem)
	defer m.Close()
	other := session.NewManager(mem)
	defer other.Close()
	if s := session.FromContext(context.Background()); s != nil {
		t.Fatalf("FromContext outside the middleware = %v", s)
	}
	if err := m.Regenerate(context.Background()); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Regenerate = %v, want ErrNoSession", err)
	}
	if err := m.Destroy(context.Background()); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Destroy = %v, want ErrNoSession", err)
	}
	serve(other, "", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Regenerate(r.Context()); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("Regenerate with another manager's session = %v, want ErrNoSession", err)
		}
	})
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// The session may be used from several goroutines of one request.
func TestSessionConcurrentUse(t *testing.T) {
	m := session.NewManager(newMemory(t))
	defer m.Close()
	res := serve(m, "", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				k := fmt.Sprint("k", i)
				s.Set(k, i)
				s.Get(k)
				s.Keys()
				session.GetAs[int](s, k)
				s.Len()
			})
		}
		wg.Wait()
		if s.Len() != 8 {
			t.Errorf("Len = %d, want 8", s.Len())
		}
	})
	if sessionCookie(t, res) == nil {
		t.Fatal("no cookie")
	}
}

func TestModifiedAndIsNew(t *testing.T) {
	m := session.NewManager(newMemory(t))
	defer m.Close()
	res := serve(m, "", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if !s.IsNew() || s.Modified() {
			t.Errorf("fresh session: IsNew %v, Modified %v", s.IsNew(), s.Modified())
		}
		s.Delete("absent")
		s.SetPermanent(true) // already permanent
		if s.Modified() {
			t.Error("deleting an absent key or keeping Permanent counted as a change")
		}
		s.Set("a", 1)
		if !s.Modified() {
			t.Error("Set is not a change")
		}
	})
	cookie := sessionCookie(t, res).Value
	serve(m, cookie, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.IsNew() || s.Modified() {
			t.Errorf("stored session: IsNew %v, Modified %v", s.IsNew(), s.Modified())
		}
		s.SetPermanent(false)
		if !s.Modified() {
			t.Error("SetPermanent(false) is not a change")
		}
	})
}

// After the response has started, Destroy still deletes the entry.
func TestDestroyAfterResponseStarted(t *testing.T) {
	m := session.NewManager(newMemory(t), session.WithIDHashing(false))
	defer m.Close()
	cookie := sessionCookie(t, serve(m, "", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("a", 1)
	})).Value
	serve(m, cookie, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("started"))
		if err := m.Destroy(r.Context()); err != nil {
			t.Errorf("Destroy after the response started: %v", err)
		}
	})
	serve(m, cookie, func(w http.ResponseWriter, r *http.Request) {
		if !session.FromContext(r.Context()).IsNew() {
			t.Error("the destroyed session is still there")
		}
	})
}

// A 103 Early Hints response is not the response: the cookie goes with the
// final headers.
func TestInformationalStatus(t *testing.T) {
	m := session.NewManager(newMemory(t))
	defer m.Close()
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		session.FromContext(r.Context()).Set("a", 1)
		w.WriteHeader(http.StatusOK)
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
		t.Fatalf("status %d, cookies %v: want 200 with the session cookie", resp.StatusCode, resp.Cookies())
	}
}

// A record that does not decode is a session lost, not a broken site: the
// client gets a new session and the damage is logged.
func TestDamagedRecord(t *testing.T) {
	mem := newMemory(t)
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	m := session.NewManager(mem, session.WithIDHashing(false), session.WithLogger(logger))
	defer m.Close()
	id := strings.Repeat("A", 43)
	if err := mem.Set(t.Context(), session.DefaultKeyPrefix+id, []byte{0xff, 0x00, 0x13}, time.Hour); err != nil {
		t.Fatal(err)
	}
	res := serve(m, id, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if !s.IsNew() {
			t.Error("a damaged record was loaded")
		}
		s.Set("a", 1)
	})
	if res.Code != http.StatusOK {
		t.Fatalf("status %d", res.Code)
	}
	if c := sessionCookie(t, res); c == nil || c.Value == id {
		t.Fatalf("cookie %v: want a new id", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "damaged record") {
		t.Fatalf("log %q does not mention the damaged record", logs.String())
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
