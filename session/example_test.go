package session_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/session"
)

func Example() {
	store, err := memorycache.New()
	if err != nil {
		panic(err)
	}
	defer store.Close()
	m := session.NewManager(store)
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		// A new identity gets a new id: defeats session fixation.
		if err := m.Regenerate(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		session.FromContext(r.Context()).Set("user", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		user, ok, err := session.GetAs[string](session.FromContext(r.Context()), "user")
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !ok:
			fmt.Fprintln(w, "hello, stranger")
		default:
			fmt.Fprintln(w, "hello,", user)
		}
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func(path string) {
		resp, err := browser.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Print(string(body))
	}
	get("/")
	get("/login?name=Ada")
	get("/")
	get("/logout")
	get("/")
	// Output:
	// hello, stranger
	// hello, Ada
	// hello, stranger
}

func ExampleGetAs() {
	store, _ := memorycache.New()
	defer store.Close()
	m := session.NewManager(store)
	defer m.Close()

	type Cart struct {
		Items []string `json:"items"`
		Total float64  `json:"total"`
	}
	put := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("cart", Cart{Items: []string{"tea", "scones"}, Total: 7.5})
	}))
	read := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		cart, ok, err := session.GetAs[Cart](s, "cart")
		fmt.Println(cart.Items, cart.Total, ok, err)
		_, _, err = session.GetAs[int](s, "cart")
		fmt.Println("as an int:", err != nil)
	}))

	rec := httptest.NewRecorder()
	put.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	read.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// [tea scones] 7.5 true <nil>
	// as an int: true
}

func ExampleWithSigningKeys() {
	store, _ := memorycache.New()
	defer store.Close()
	// Rotate keys by putting a new one first; the old one still verifies
	// cookies it signed, which are re-signed with the new one.
	m := session.NewManager(store,
		session.WithSigningKeys([]byte("2025 key: 32 random bytes or more"), []byte("2024 key: 32 random bytes or more")),
		session.WithCookieSecure(true),
		session.WithIdleTimeout(30*time.Minute),
		session.WithLifetime(12*time.Hour),
	)
	defer m.Close()

	rec := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("user_id", 7)
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	c := rec.Result().Cookies()[0]
	fmt.Println(len(c.Value), c.Secure, c.HttpOnly, c.SameSite == http.SameSiteLaxMode, c.MaxAge)
	// Output:
	// 87 true true true 1800
}

// A Go service reads the session that a Flask app using Flask-Session
// stored in a shared backend, from the cookie the Flask app set.
func ExampleFlaskCompatible() {
	var fx struct {
		SecretKey string `json:"secret_key"`
		StoreKey  string `json:"store_key"`
		Cookie    string `json:"cookie"`
	}
	meta, _ := os.ReadFile("testdata/flask/fixtures.json")
	if err := json.Unmarshal(meta, &fx); err != nil {
		panic(err)
	}
	written, _ := os.ReadFile("testdata/flask/session.msgpack") // by Flask-Session

	store, _ := memorycache.New() // Redis, in production
	defer store.Close()
	if err := store.Set(context.Background(), fx.StoreKey, written, time.Hour); err != nil {
		panic(err)
	}

	m := session.NewManager(store, session.FlaskCompatible(fx.SecretKey))
	defer m.Close()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: fx.Cookie})
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		user, _, _ := session.GetAs[string](s, "_user_id") // Flask-Login's key
		fmt.Println(fx.StoreKey[:8], "user", user, "permanent", s.Permanent())
	})).ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// session: user 1 permanent true
}
