package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/filecache"
	"github.com/cachelib-go/cachelib/session"
)

func newSessions(t *testing.T) *session.Manager {
	t.Helper()
	mc, err := memorycache.New()
	if err != nil {
		t.Fatal(err)
	}
	m := session.NewManager(mc)
	t.Cleanup(func() {
		m.Close()
		mc.Close()
	})
	return m
}

func get(t *testing.T, url string) (string, time.Duration) {
	t.Helper()
	return getWith(t, http.DefaultClient, url)
}

func getWith(t *testing.T, client *http.Client, url string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body), time.Since(start)
}

func field(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no #%s in page:\n%s", id, page)
	}
	return strings.TrimSpace(m[1])
}

func TestDemoPage(t *testing.T) {
	const delay = 300 * time.Millisecond
	fc, err := filecache.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	srv := httptest.NewServer(newDemo(fc, newSessions(t), delay, "filecache"))
	defer srv.Close()

	page, took := get(t, srv.URL)
	if took < delay || !strings.Contains(field(t, page, "outcome"), "Miss") {
		t.Fatalf("first request took %v, outcome %q; want a miss that waits for the loader", took, field(t, page, "outcome"))
	}
	page, took = get(t, srv.URL)
	if took >= delay || !strings.Contains(field(t, page, "outcome"), "Hit") {
		t.Fatalf("second request took %v, outcome %q; want an instant hit", took, field(t, page, "outcome"))
	}
	if v, h, m := field(t, page, "visits"), field(t, page, "hits"), field(t, page, "misses"); v != "2" || h != "1" || m != "1" {
		t.Fatalf("visits, hits, misses = %s, %s, %s; want 2, 1, 1", v, h, m)
	}

	// The form posts to /clear, which redirects to the page.
	resp, err := http.Post(srv.URL+"/clear", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page = string(body)
	if !strings.Contains(field(t, page, "outcome"), "Miss") || field(t, page, "visits") != "1" {
		t.Fatalf("after Clear: outcome %q, visits %s; want a miss and a fresh count", field(t, page, "outcome"), field(t, page, "visits"))
	}
}

// The loader is shared: concurrent first requests wait for one load.
func TestDemoConcurrentMisses(t *testing.T) {
	mc, err := memorycache.New()
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	srv := httptest.NewServer(newDemo(mc, newSessions(t), 200*time.Millisecond, "memorycache"))
	defer srv.Close()
	done := make(chan string, 5)
	for range 5 {
		go func() {
			page, _ := get(t, srv.URL)
			done <- page
		}()
	}
	for range 5 {
		<-done
	}
	page, _ := get(t, srv.URL)
	if m := field(t, page, "misses"); m != "1" {
		t.Fatalf("5 concurrent first requests ran the loader %s times, want 1", m)
	}
}

// run opens the adapters its URLs name, serves the page on them, and
// returns once its context ends.
func TestRun(t *testing.T) {
	for _, tc := range []struct{ cacheURL, sessionsURL, backend string }{
		{"", "", "file:///"}, // the default: a filecache in a temporary folder
		{"mem://?capacity=1MiB", "", "mem://?capacity=1MiB"},
		{"mem://", "file://" + t.TempDir(), "mem://"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			addr := freeAddr(t)
			errc := make(chan error, 1)
			go func() { errc <- run(ctx, addr, tc.cacheURL, tc.sessionsURL, time.Millisecond) }()
			page := waitForPage(t, "http://"+addr+"/")
			if got := field(t, page, "backend"); !strings.HasPrefix(got, tc.backend) {
				t.Errorf("page says it runs on %q, want %q", got, tc.backend)
			}
			if v := field(t, page, "visits"); v != "1" {
				t.Errorf("visits on the first page: %s", v)
			}
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Fatalf("run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("run did not return after its context ended")
			}
		})
	}
}

// A URL that opens nothing stops run before it serves, with an error that
// says why.
func TestRunBadURLs(t *testing.T) {
	for _, tc := range []struct {
		cacheURL, sessionsURL string
		want                  error
	}{
		{"mem://?capasity=1MiB", "", cache.ErrInvalidURL},
		{"mem://", "nosuch://x", cache.ErrUnknownScheme},
	} {
		err := run(t.Context(), freeAddr(t), tc.cacheURL, tc.sessionsURL, time.Millisecond)
		if !errors.Is(err, tc.want) {
			t.Errorf("run with -cache %q -sessions %q: %v, want %v", tc.cacheURL, tc.sessionsURL, err, tc.want)
		}
	}
}

// freeAddr returns a local address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitForPage returns the page at url once the server answers.
func waitForPage(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
			}
			return string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func post(t *testing.T, client *http.Client, url string, form url.Values) string {
	t.Helper()
	resp, err := client.PostForm(url, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s: %s", url, resp.Status, body)
	}
	return string(body)
}

func TestDemoSession(t *testing.T) {
	mc, err := memorycache.New()
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	srv := httptest.NewServer(newDemo(mc, newSessions(t), time.Millisecond, "memorycache"))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}

	page, _ := getWith(t, client, srv.URL)
	if !strings.Contains(page, `id="user-none"`) {
		t.Fatal("a new visitor is shown as logged in")
	}
	page = post(t, client, srv.URL+"/login", url.Values{"name": {"ada"}})
	if field(t, page, "user") != "ada" {
		t.Fatalf("after login the page shows user %q", field(t, page, "user"))
	}
	sid := field(t, page, "sid")
	page = post(t, client, srv.URL+"/regenerate", nil)
	if field(t, page, "user") != "ada" || field(t, page, "sid") == sid {
		t.Fatalf("after regenerate: user %q, id %q (was %q); want the same user under a new id", field(t, page, "user"), field(t, page, "sid"), sid)
	}
	// Clearing the demo's cache does not log anyone out: sessions live
	// in their own adapter.
	page = post(t, client, srv.URL+"/clear", nil)
	if field(t, page, "user") != "ada" {
		t.Fatal("Clear of the demo cache logged the user out")
	}
	page = post(t, client, srv.URL+"/logout", nil)
	if !strings.Contains(page, `id="user-none"`) {
		t.Fatal("still logged in after logout")
	}
	resp, err := client.PostForm(srv.URL+"/login", url.Values{"name": {""}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("login with an empty name: %s, want 400", resp.Status)
	}
}
