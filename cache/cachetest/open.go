package cachetest

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
)

// Open opens rawURL with cache.Open, failing t if that fails, and closes
// the adapter when t ends. With Run it checks that the adapter a URL opens
// keeps the contract:
//
//	cachetest.Run(t, func(t *testing.T) cache.Adapter {
//		return cachetest.Open(t, "mem://")
//	})
func Open(t testing.TB, rawURL string) cache.Adapter {
	t.Helper()
	a, err := cache.Open(t.Context(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close of the adapter %s opened: %v", rawURL, err)
		}
	})
	return a
}

// BadURLs checks that cache.Open refuses each URL of cases with an error
// that wraps cache.ErrInvalidURL and contains the text the URL maps to,
// which should name the problem, and that the error never shows the
// password or the user name of a URL that has one (a user name shorter
// than 4 bytes may appear, as cache.Open does not seek it in drivers'
// errors).
func BadURLs(t *testing.T, cases map[string]string) {
	t.Helper()
	for rawURL, want := range cases {
		a, err := cache.Open(t.Context(), rawURL)
		if err == nil {
			a.Close()
		}
		if !errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%.80q) = %v; want cache.ErrInvalidURL saying %q", rawURL, err, want)
		}
		if u, perr := url.Parse(rawURL); perr == nil && err != nil {
			if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), pw) {
				t.Errorf("Open(%.80q): the error shows the password: %v", rawURL, err)
			}
			if name := u.User.Username(); len(name) >= 4 && strings.Contains(err.Error(), name) {
				t.Errorf("Open(%.80q): the error shows the user name: %v", rawURL, err)
			}
		}
	}
}
