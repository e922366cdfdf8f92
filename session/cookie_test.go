package session

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/internal/decodetest"
)

// flaskFixtures is testdata/flask/fixtures.json, written by
// make_fixtures.py with Python's itsdangerous.
type flaskFixtures struct {
	SecretKey string            `json:"secret_key"`
	SID       string            `json:"sid"`
	StoreKey  string            `json:"store_key"`
	Cookie    string            `json:"cookie"`
	Signed    map[string]string `json:"signed"`
	Vector    struct {
		Secret string `json:"secret"`
		ID     string `json:"id"`
		Cookie string `json:"cookie"`
	} `json:"vector"`
}

func loadFlaskFixtures(t testing.TB) flaskFixtures {
	t.Helper()
	b, err := os.ReadFile("testdata/flask/fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx flaskFixtures
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	return fx
}

func newTestManager(t testing.TB, opts ...Option) *Manager {
	t.Helper()
	a, err := memorycache.New(memorycache.WithCapacity(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(a, opts...)
	t.Cleanup(func() {
		m.Close()
		a.Close()
	})
	return m
}

// The vector from the issue, and every id itsdangerous signed for the
// fixtures: our signer writes the same cookie and accepts it.
func TestFlaskSigner(t *testing.T) {
	fx := loadFlaskFixtures(t)
	if got := flaskSigner(fx.Vector.Secret).sign(fx.Vector.ID); got != fx.Vector.Cookie || got != "abc.qHdohP2AdD3tm4fFdpaLQ-hcXUE" {
		t.Fatalf("sign(%q) with %q = %q, want %q", fx.Vector.ID, fx.Vector.Secret, got, fx.Vector.Cookie)
	}
	m := newTestManager(t, FlaskCompatible(fx.SecretKey))
	for id, cookie := range fx.Signed {
		if got := m.signer.sign(id); got != cookie {
			t.Errorf("sign(%q) = %q, itsdangerous gave %q", id, got, cookie)
		}
		if got, resign, ok := m.parseCookie(cookie); !ok || resign || got != id {
			t.Errorf("parseCookie(%q) = %q, %v, %v; want %q, false, true", cookie, got, resign, ok, id)
		}
	}
}

func TestParseCookie(t *testing.T) {
	id := newID(DefaultIDLength)
	k1, k2 := []byte("key one"), []byte("key two")
	plain := newTestManager(t)
	signed := newTestManager(t, WithSigningKeys(k2, k1))
	old := nativeSigner(k1, nil).sign(id)
	cur := signed.signer.sign(id)
	cases := []struct {
		m              *Manager
		v              string
		ok, wantResign bool
	}{
		{plain, id, true, false},
		{plain, id[:42], false, false},
		{plain, id + "A", false, false},
		{plain, strings.Repeat("+", 43), false, false},
		{plain, strings.Repeat("=", 43), false, false},
		{plain, cur, false, false},
		{signed, cur, true, false},
		{signed, old, true, true},
		{signed, id, false, false},
		{signed, id + "." + strings.Repeat("A", 43), false, false},
		{signed, nativeSigner([]byte("key three"), nil).sign(id), false, false},
		{signed, strings.Replace(cur, ".", "_", 1), false, false},
		{signed, cur[:len(cur)-1] + "=", false, false},
	}
	for _, c := range cases {
		got, resign, ok := c.m.parseCookie(c.v)
		if ok != c.ok || resign != c.wantResign || (ok && got != id) {
			t.Errorf("parseCookie(%q) = %q, %v, %v; want ok %v, resign %v", c.v, got, resign, ok, c.ok, c.wantResign)
		}
	}
}

func TestCookieValue(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Add("Cookie", "a=1; session=first;other=x")
	r.Header.Add("Cookie", "session=second")
	if v, ok := cookieValue(r, "session"); !ok || v != "first" {
		t.Fatalf("cookieValue = %q, %v; want the first, as Request.Cookie gives", v, ok)
	}
	if _, ok := cookieValue(r, "sess"); ok {
		t.Fatal("found a cookie by a prefix of its name")
	}
}

// cookieBound is what parsing a cookie may allocate, whatever its length:
// a value of the wrong length is refused before any work, and one of the
// right length costs a signature check per key.
var cookieBound = decodetest.Bound{Base: 2 << 10}

// FuzzParseCookie checks that no cookie value makes the parser panic or
// allocate beyond cookieBound, and that every value it accepts is one the
// manager could have issued: an id of the right length and alphabet, and,
// when signing, exactly the signature one of its keys makes.
func FuzzParseCookie(f *testing.F) {
	fx := loadFlaskFixtures(f)
	k1, k2 := []byte("fuzz key one"), []byte("fuzz key two")
	managers := []*Manager{
		newTestManager(f),
		newTestManager(f, WithSigningKeys(k2, k1)),
		newTestManager(f, FlaskCompatible(fx.SecretKey)),
	}
	id := newID(DefaultIDLength)
	f.Add(id)
	f.Add(managers[1].signer.sign(id))
	f.Add(nativeSigner(k1, nil).sign(id))
	f.Add(fx.Cookie)
	f.Add(fx.Vector.Cookie)
	f.Add("")
	f.Add(".")
	f.Add(strings.Repeat(".", 71))
	f.Add(id + ".")
	f.Add(strings.Repeat("é", 43))
	f.Add("\x00" + id[1:])
	f.Fuzz(func(t *testing.T, v string) {
		for i, m := range managers {
			var got string
			var resign, ok bool
			decodetest.CheckAlloc(t, cookieBound, len(v), func() { got, resign, ok = m.parseCookie(v) })
			if !ok {
				if got != "" || resign {
					t.Fatalf("manager %d: rejected %q but returned %q, %v", i, v, got, resign)
				}
				continue
			}
			if len(got) != 43 || !isB64(got) {
				t.Fatalf("manager %d: accepted %q with id %q", i, v, got)
			}
			switch {
			case m.signer == nil:
				if got != v {
					t.Fatalf("manager %d: id %q from %q", i, got, v)
				}
			case resign:
				if want := nativeSigner(k1, nil).sign(got); v != want {
					t.Fatalf("manager %d: accepted %q as signed by the old key, which signs %q", i, v, want)
				}
			default:
				if want := m.signer.sign(got); v != want {
					t.Fatalf("manager %d: accepted %q, but the signature of %q is %q", i, v, got, want)
				}
			}
		}
	})
}
