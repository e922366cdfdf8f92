package cache_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
)

// Importing an adapter package registers its schemes; this test binary
// imports memorycache, filecache and rediscache.
func TestSchemes(t *testing.T) {
	got := cache.Schemes()
	for _, want := range []string{"file", "mem", "redis", "redis+cluster", "redis+sentinel", "rediss"} {
		if !slices.Contains(got, want) {
			t.Errorf("Schemes() = %v, lacks %q", got, want)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("Schemes() = %v, not sorted", got)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		url    string
		target error
		want   string
	}{
		{"", cache.ErrInvalidURL, "no scheme"},
		{"localhost:6379", cache.ErrUnknownScheme, `"localhost" (registered: `},
		{"/var/cache", cache.ErrInvalidURL, "no scheme (want scheme://...; registered: "},
		{"memcache://h:1", cache.ErrUnknownScheme, "is the adapter package imported?"},
		{"redis://h:1:2:3/0", cache.ErrInvalidURL, `host "h:1:2:3": too many colons`},
		{"mem://%zz", cache.ErrInvalidURL, "invalid URL escape"},
		{"mem://?capacity=x", cache.ErrInvalidURL, `capacity="x"`},
	} {
		a, err := cache.Open(t.Context(), tc.url)
		if err == nil {
			a.Close()
		}
		var oe *cache.OpenError
		if !errors.Is(err, tc.target) || !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v; want an *OpenError wrapping %v and saying %q", tc.url, err, tc.target, tc.want)
		}
	}
}

// Errors show the URL with its password hidden, including a URL that does
// not parse.
func TestOpenErrorHidesPassword(t *testing.T) {
	for _, raw := range []string{
		"nosuch://user:s3cret@host/x",
		"mem://user:s3cret@host",
		"redis://user:s3cret@h:1:2/0",
		"redis://user:s3cret@h:1/0?bad=1",
		"nosuch:user:s3cret@host/db",
		"nosuch://host/db?password=s3cret&x=1",
		"nosuch://host/db?sentinel_Password=s3cret",
		"nosuch://host/db?endpoint=http://u:s3cret@proxy:8000",
	} {
		_, err := cache.Open(t.Context(), raw)
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("Open(%q) = %v; want an error showing the URL without the password", raw, err)
		}
	}
}

// Schemes are case-insensitive, as URL schemes are.
func TestOpenSchemeCase(t *testing.T) {
	a, err := cache.Open(t.Context(), "MEM://")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.(*memorycache.Cache); !ok {
		t.Errorf("MEM:// opened a %T", a)
	}
}

func TestRegisterMisuse(t *testing.T) {
	open := func(context.Context, *url.URL) (cache.Adapter, error) { return nil, nil }
	for name, call := range map[string]func(){
		"nil OpenFunc":    func() { cache.Register("test-nil", nil) },
		"empty scheme":    func() { cache.Register("", open) },
		"invalid scheme":  func() { cache.Register("my cache", open) },
		"digit first":     func() { cache.Register("1cache", open) },
		"taken":           func() { cache.Register("mem", open) },
		"taken, any case": func() { cache.Register("Mem", open) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register with %s did not panic", name)
				}
			}()
			call()
		}()
	}
	cache.RegisterForTest(t, "test-ok+v1.2", open)
	if !slices.Contains(cache.Schemes(), "test-ok+v1.2") {
		t.Errorf("a valid scheme was not registered: %v", cache.Schemes())
	}
}

func ExampleOpen() {
	// The adapter packages a program imports decide which schemes it can
	// open; this example imports memorycache, filecache and rediscache.
	ctx := context.Background()
	a, err := cache.Open(ctx, "mem://?capacity=16MiB")
	if err != nil {
		panic(err)
	}
	defer a.Close()
	if err := a.Set(ctx, "greeting", []byte("hello"), 0); err != nil {
		panic(err)
	}
	v, _ := a.Get(ctx, "greeting")
	fmt.Println(string(v))

	// A mistyped parameter is an error, not a silent default.
	_, err = cache.Open(ctx, "mem://?capasity=16MiB")
	fmt.Println(errors.Is(err, cache.ErrInvalidURL))
	fmt.Println(err)
	// Output:
	// hello
	// true
	// cache: open mem://?capasity=16MiB: cache: invalid URL: unknown parameter capasity (this scheme accepts parameters capacity)
}
