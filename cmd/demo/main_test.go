package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/filecache"
)

func get(t *testing.T, url string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(url)
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
	srv := httptest.NewServer(newDemo(fc, delay))
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
	srv := httptest.NewServer(newDemo(mc, 200*time.Millisecond))
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

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, "127.0.0.1:0", t.TempDir(), time.Millisecond) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
