package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/session"
	"github.com/vmihailenco/msgpack/v5"
)

// The fixtures in testdata/flask were written by make_fixtures.py with
// Python's msgpack and itsdangerous, the way Flask-Session 0.8 writes a
// session to Redis and signs its cookie.

type flaskFixtures struct {
	SecretKey string `json:"secret_key"`
	SID       string `json:"sid"`
	StoreKey  string `json:"store_key"`
	Cookie    string `json:"cookie"`
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/flask/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flaskFixture(t *testing.T) flaskFixtures {
	t.Helper()
	var fx flaskFixtures
	if err := json.Unmarshal(readFixture(t, "fixtures.json"), &fx); err != nil {
		t.Fatal(err)
	}
	return fx
}

// setRecorder remembers the last Set, as Redis would see it.
type setRecorder struct {
	cache.Adapter
	mu    sync.Mutex
	key   string
	value []byte
	ttl   time.Duration
}

func (r *setRecorder) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	r.mu.Lock()
	r.key, r.value, r.ttl = key, bytes.Clone(value), ttl
	r.mu.Unlock()
	return r.Adapter.Set(ctx, key, value, ttl)
}

func (r *setRecorder) last() (string, []byte, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.key, r.value, r.ttl
}

func newMemory(t *testing.T) *memorycache.Cache {
	t.Helper()
	c, err := memorycache.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serve runs one request carrying cookie through m's middleware around h.
func serve(m *session.Manager, cookie string, h http.HandlerFunc) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	m.Middleware(h).ServeHTTP(rec, req)
	return rec
}

func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.DefaultCookieName {
			return c
		}
	}
	return nil
}

// A Go service reads the session a Flask app stored, from Flask's signed
// cookie, with every value type Flask sessions hold.
func TestFlaskReadsFlaskSession(t *testing.T) {
	fx := flaskFixture(t)
	mem := newMemory(t)
	if err := mem.Set(t.Context(), fx.StoreKey, readFixture(t, "session.msgpack"), time.Hour); err != nil {
		t.Fatal(err)
	}
	m := session.NewManager(mem, session.FlaskCompatible(fx.SecretKey))
	defer m.Close()
	serve(m, fx.Cookie, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.IsNew() || s.ID() != fx.SID || !s.Permanent() {
			t.Fatalf("IsNew %v, ID %q, Permanent %v: want the Flask session %q, permanent", s.IsNew(), s.ID(), s.Permanent(), fx.SID)
		}
		wantKeys := "_flashes,_fresh,_id,_user_id,big,blob,cart,csrf_token,name,neg,nothing,prefs,ratio"
		if got := strings.Join(s.Keys(), ","); got != wantKeys {
			t.Errorf("keys %s, want %s (without _permanent, which is Permanent)", got, wantKeys)
		}
		check := func(key string, got, want any, ok bool, err error) {
			t.Helper()
			if err != nil || !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %#v (ok %v, err %v), want %#v", key, got, ok, err, want)
			}
		}
		userID, ok, err := session.GetAs[string](s, "_user_id")
		check("_user_id", userID, "1", ok, err)
		fresh, ok, err := session.GetAs[bool](s, "_fresh")
		check("_fresh", fresh, true, ok, err)
		flashes, ok, err := session.GetAs[[][]string](s, "_flashes")
		check("_flashes", flashes, [][]string{{"message", "Logged in"}}, ok, err)
		cart, ok, err := session.GetAs[[]int](s, "cart")
		check("cart", cart, []int{1, 2, 3}, ok, err)
		type prefs struct {
			Theme string `json:"theme"`
			Size  int    `json:"size"`
		}
		p, ok, err := session.GetAs[prefs](s, "prefs")
		check("prefs", p, prefs{"dark", 12}, ok, err)
		ratio, ok, err := session.GetAs[float64](s, "ratio")
		check("ratio", ratio, 0.25, ok, err)
		big, ok, err := session.GetAs[int64](s, "big")
		check("big", big, int64(1)<<40, ok, err)
		neg, ok, err := session.GetAs[int](s, "neg")
		check("neg", neg, -200, ok, err)
		blob, ok, err := session.GetAs[[]byte](s, "blob")
		check("blob", blob, []byte{0, 1, 0xfe}, ok, err)
		name, ok, err := session.GetAs[string](s, "name")
		check("name", name, "Zoë", ok, err)
		// Untyped reads give the widened interface forms.
		v, ok := s.Get("prefs")
		check("Get(prefs)", v, map[string]any{"theme": "dark", "size": int64(12)}, ok, nil)
		v, ok = s.Get("nothing")
		check("Get(nothing)", v, nil, ok, nil)
		v, ok = s.Get("_flashes")
		check("Get(_flashes)", v, []any{[]any{"message", "Logged in"}}, ok, nil)
	})
}

// A Go service writes, for the same data, the very bytes Flask-Session
// writes, under Flask's key, with Flask's TTL and a cookie Flask verifies.
func TestFlaskWritesWhatFlaskWrites(t *testing.T) {
	fx := flaskFixture(t)
	store := &setRecorder{Adapter: newMemory(t)}
	m := session.NewManager(store, session.FlaskCompatible(fx.SecretKey), session.WithLifetime(time.Hour))
	defer m.Close()
	res := serve(m, "", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("user_id", 42)
		s.Set("cart", []int{1, 2, 3})
		s.Set("prefs", map[string]any{"theme": "dark", "size": 12})
		s.Set("ratio", 0.25)
		s.Set("big", int64(1)<<40)
		s.Set("neg", -200)
		s.Set("blob", []byte{0, 1, 0xfe})
		s.Set("nothing", nil)
		s.Set("name", "Zoë")
	})
	c := sessionCookie(t, res)
	if c == nil {
		t.Fatal("no cookie")
	}
	id, _, ok := strings.Cut(c.Value, ".")
	if !ok {
		t.Fatalf("cookie %q is not signed", c.Value)
	}
	key, value, ttl := store.last()
	if key != "session:"+id {
		t.Errorf("stored under %q, want session:%s", key, id)
	}
	if want := readFixture(t, "sorted.msgpack"); !bytes.Equal(value, want) {
		t.Errorf("stored\n%x\nFlask-Session stores\n%x", value, want)
	}
	if ttl != time.Hour {
		t.Errorf("TTL %v, want the lifetime, as Flask's EX", ttl)
	}
}

// Changing one key of a Flask session keeps every other value byte for byte
// and keeps "_permanent", so the Flask app still reads its data.
func TestFlaskUpdateKeepsFlaskValues(t *testing.T) {
	fx := flaskFixture(t)
	store := &setRecorder{Adapter: newMemory(t)}
	orig := readFixture(t, "session.msgpack")
	if err := store.Set(t.Context(), fx.StoreKey, orig, time.Hour); err != nil {
		t.Fatal(err)
	}
	m := session.NewManager(store, session.FlaskCompatible(fx.SecretKey))
	defer m.Close()
	serve(m, fx.Cookie, func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("cart", []int{4})
	})
	key, value, _ := store.last()
	if key != fx.StoreKey {
		t.Fatalf("saved under %q, want %q", key, fx.StoreKey)
	}
	var before, after map[string]msgpack.RawMessage
	if err := msgpack.Unmarshal(orig, &before); err != nil {
		t.Fatal(err)
	}
	if err := msgpack.Unmarshal(value, &after); err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("%d keys after the update, %d before", len(after), len(before))
	}
	for k, v := range before {
		want := []byte(v)
		if k == "cart" {
			want = []byte{0x91, 0x04}
		}
		if !bytes.Equal(after[k], want) {
			t.Errorf("%s: %x after the update, want %x", k, after[k], want)
		}
	}
}

// A session Flask stored as not permanent stays so: its refreshed cookie has
// no expiry, and the entry's TTL is the lifetime from this save, as in Flask.
func TestFlaskNotPermanent(t *testing.T) {
	fx := flaskFixture(t)
	store := &setRecorder{Adapter: newMemory(t)}
	if err := store.Set(t.Context(), fx.StoreKey, readFixture(t, "not_permanent.msgpack"), time.Minute); err != nil {
		t.Fatal(err)
	}
	m := session.NewManager(store, session.FlaskCompatible(fx.SecretKey), session.WithLifetime(2*time.Hour))
	defer m.Close()
	res := serve(m, fx.Cookie, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if n, _, err := session.GetAs[int](s, "n"); s.Permanent() || n != 1 || err != nil {
			t.Errorf("Permanent %v, n %d, err %v; want false, 1", s.Permanent(), n, err)
		}
	})
	c := sessionCookie(t, res)
	if c == nil || !c.Expires.IsZero() || c.MaxAge != 0 {
		t.Fatalf("refreshed cookie %+v: want one without expiry", c)
	}
	if _, _, ttl := store.last(); ttl != 2*time.Hour {
		t.Fatalf("refresh stored with TTL %v, want the lifetime (Flask's records slide)", ttl)
	}
}

// Without a secret, the cookie is the bare id, as with Flask-Session's
// default SESSION_USE_SIGNER=False; a signed cookie is then not an id.
func TestFlaskUnsigned(t *testing.T) {
	fx := flaskFixture(t)
	mem := newMemory(t)
	if err := mem.Set(t.Context(), fx.StoreKey, readFixture(t, "session.msgpack"), time.Hour); err != nil {
		t.Fatal(err)
	}
	m := session.NewManager(mem, session.FlaskCompatible(""))
	defer m.Close()
	for cookie, found := range map[string]bool{fx.SID: true, fx.Cookie: false} {
		serve(m, cookie, func(w http.ResponseWriter, r *http.Request) {
			if s := session.FromContext(r.Context()); s.IsNew() == found {
				t.Errorf("cookie %q: IsNew %v", cookie, s.IsNew())
			}
		})
	}
	signedElsewhere := session.NewManager(mem, session.FlaskCompatible("another secret"))
	defer signedElsewhere.Close()
	serve(signedElsewhere, fx.Cookie, func(w http.ResponseWriter, r *http.Request) {
		if !session.FromContext(r.Context()).IsNew() {
			t.Error("a cookie signed with another secret was accepted")
		}
	})
}
