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

// Errors show the URL with every part that may hold a credential hidden:
// the user part (a user name alone is often a token), parameters whose
// names say they hold one, name:value lists inside values, URLs inside
// values, opaque and path forms of a user part, fragments, and a query or
// URL that does not parse.
func TestOpenErrorHidesCredentials(t *testing.T) {
	for _, raw := range []string{
		"nosuch://user:s3cret@host/x",
		"nosuch://s3cret@host/x",
		"nosuch://s3cret:pw@host/x",
		"mem://user:s3cret@host",
		"redis://user:s3cret@h:1:2/0",
		"redis://user:s3cret@h:1/0?bad=1",
		"nosuch:user:s3cret@host/db",
		"nosuch:s3cret@host/db",
		"nosuch:/s3cret@host/db",
		"nosuch://host/db?password=s3cret&x=1",
		"nosuch://host/db?sentinel_Password=s3cret",
		"nosuch://host/db?_auth_pass=s3cret",
		"nosuch://host/db?PWD=s3cret",
		"nosuch://host/db?apiKey=s3cret",
		"nosuch://host/db?X-Amz-Signature=s3cret",
		"nosuch://host/db?credentials=s3cret",
		"nosuch://host/db?Auth=s3cret",
		"nosuch://host/db?AccessToken=s3cret",
		"nosuch://host/db?user=s3cret",
		"redis+sentinel://host/db?master_name=m&username=s3cret",
		"nosuch://host/db?authMechanismProperties=SERVICE_NAME:x,AWS_SESSION_TOKEN:s3cret",
		"nosuch://host/db?opts=SERVICE_NAME:x,AWS_SESSION_TOKEN:s3cret",
		"nosuch://host/db?connectionAttributes=app:x,_PASSWORD:s3cret",
		"nosuch://host/db?options=-c%20password%3Ds3cret",
		"nosuch://host/db?_pragma=key(%27s3cret%27)",
		"nosuch://host/db?endpoint=http://u:s3cret@proxy:8000",
		"nosuch://host/db?endpoint=http://s3cret@proxy:8000",
		"nosuch://host/db?endpoint=http://proxy:8000%23s3cret",
		"nosuch://host/db#s3cret",
		"nosuch://host/db?password=s3cret&x=%zz",
		"redis://user:s3cret/x@host/0",  // the parser's error quotes the "port"
		"redis://user:pass@host:s3cret", // and a bad escape
		"redis://user:s3%cret@host/0",
	} {
		_, err := cache.Open(t.Context(), raw)
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("Open(%q) = %v; want an error showing the URL without the secret", raw, err)
		}
	}
}

// A driver's error may quote a part of the URL (pgx names the user it
// connected as): the error Open returns hides every secret it hid in the
// URL wherever it appears, and still wraps the driver's error.
func TestOpenErrorHidesCredentialsQuotedByDrivers(t *testing.T) {
	errDriver := errors.New("driver error")
	cache.RegisterForTest(t, "test-quote", func(_ context.Context, u *url.URL) (cache.Adapter, error) {
		pw, _ := u.User.Password()
		return nil, fmt.Errorf("failed to connect to user=%s password=%s token=%q (%s): %w",
			u.User.Username(), url.QueryEscape(pw), u.Query().Get("token"), u.Query().Get("authToken"), errDriver)
	})
	_, err := cache.Open(t.Context(), "test-quote://Us3r:p%40ss%2Fw0rd@host/?token=T0ken-1&authToken=Ab")
	var oe *cache.OpenError
	if !errors.Is(err, errDriver) || !errors.As(err, &oe) {
		t.Fatalf("Open = %v; want an *OpenError wrapping the driver's error", err)
	}
	for _, secret := range []string{"Us3r", "p@ss/w0rd", "p%40ss%2Fw0rd", "T0ken-1"} {
		if strings.Contains(err.Error(), secret) || strings.Contains(oe.Err.Error(), secret) {
			t.Errorf("the error shows %q: %v", secret, err)
		}
	}
	// A secret shorter than 4 bytes is hidden in the URL but not sought in
	// the driver's text, where it would match ordinary words.
	if want := "failed to connect to user=xxxxx password=xxxxx token=\"xxxxx\" (Ab): driver error"; !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Open = %v; want it to end with %q", err, want)
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
