package urlparam

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

func params(t *testing.T, query string) *Params {
	t.Helper()
	u, err := url.Parse("x://h/?" + query)
	if err != nil {
		t.Fatal(err)
	}
	return New(u)
}

func TestValues(t *testing.T) {
	p := params(t, "s=a%3Ab&n=12&d=1m30s&b=false&flag&m=64MiB&k=2KB&z=100")
	if got := p.String("s", "def"); got != "a:b" {
		t.Errorf("String = %q", got)
	}
	if got := p.Int("n", 0, 1); got != 12 {
		t.Errorf("Int = %d", got)
	}
	if got := p.Duration("d", 0); got != 90*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := p.Bool("b", true); got {
		t.Errorf("Bool(b) = true")
	}
	if got := p.Bool("flag", false); !got {
		t.Errorf("Bool(flag) without a value = false")
	}
	if m, k, z := p.Size("m", 0), p.Size("k", 0), p.Size("z", 0); m != 64<<20 || k != 2000 || z != 100 {
		t.Errorf("Size = %d, %d, %d", m, k, z)
	}
	if got := p.Int("absent", 7, 0); got != 7 {
		t.Errorf("absent Int = %d, want the default", got)
	}
	if err := p.Done(); err != nil {
		t.Errorf("Done after reading every parameter: %v", err)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		query string
		read  func(p *Params)
		want  string
	}{
		{"n=x", func(p *Params) { p.Int("n", 0, 0) }, `n="x": want an integer of at least 0`},
		{"n=-1", func(p *Params) { p.Int("n", 0, 0) }, `n="-1": want an integer of at least 0`},
		{"d=5", func(p *Params) { p.Duration("d", 0) }, `d="5": want a duration such as`},
		{"d=-1s", func(p *Params) { p.Duration("d", 0) }, `d="-1s": want a duration such as`},
		{"timeout=0s", func(p *Params) { p.Timeout(time.Second) }, `timeout="0s": want a positive duration`},
		{"timeout=soon", func(p *Params) { p.Timeout(time.Second) }, `timeout="soon": want a positive duration`},
		{"m=0", func(p *Params) { p.Size("m", 0) }, `m="0": want a positive size`},
		{"m=12XB", func(p *Params) { p.Size("m", 0) }, `m="12XB": want a positive size`},
		{"m=9000000000GiB", func(p *Params) { p.Size("m", 0) }, `m="9000000000GiB": want a positive size`},
		{"b=yes", func(p *Params) { p.Bool("b", false) }, `b="yes": want true or false`},
		{"s=a&s=b", func(p *Params) { p.String("s", "") }, `s="a,b": want given once`},
		{"s=a&tpyo=1&zz=2", func(p *Params) { p.String("s", ""); p.Int("n", 0, 0) }, "unknown parameter tpyo, zz (this scheme accepts parameters n, s)"},
		{"x=1", func(p *Params) {}, "unknown parameter x (this scheme accepts no parameters)"},
		{"a=%zz", func(p *Params) {}, "query: invalid URL escape"},
	} {
		p := params(t, tc.query)
		tc.read(p)
		err := p.Done()
		if !errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("?%s: Done = %v; want ErrInvalidURL saying %q", tc.query, err, tc.want)
		}
	}
}

// Rest hands the parameters not read to a client library, in a form that
// parses back to the same values.
func TestRest(t *testing.T) {
	p := params(t, "prefix=app%3A&dial_timeout=3s&addr=h1%3A1&addr=h2%3A2")
	if got := p.String("prefix", ""); got != "app:" {
		t.Fatalf("prefix = %q", got)
	}
	rest, err := url.ParseQuery(p.Rest())
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 2 || rest.Get("dial_timeout") != "3s" || strings.Join(rest["addr"], " ") != "h1:1 h2:2" {
		t.Errorf("Rest = %q", p.Rest())
	}
	unread := p.Unread()
	unread.Add("addr", "h3:3")
	if len(unread) != 2 || len(unread["addr"]) != 3 || p.Rest() != rest.Encode() {
		t.Errorf("Unread = %v, and after changing it Rest = %q", unread, p.Rest())
	}
	if p.Err() != nil {
		t.Errorf("Err = %v", p.Err())
	}
}

// No adapter reads a fragment: one is an error, whatever else the URL
// holds, and the error does not quote it (it may be a cut secret).
func TestFragment(t *testing.T) {
	for _, raw := range []string{"x://h/#s3cret", "x://h/?a=1#s3cret", "x:opaque#s3cret"} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		p := New(u)
		p.String("a", "")
		for name, err := range map[string]error{"Done": p.Done(), "Err": p.Err()} {
			if !errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), "a fragment (#...)") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: %s = %v; want cache.ErrInvalidURL naming the fragment without quoting it", raw, name, err)
			}
		}
	}
}

// Single refuses a parameter not read yet that is given twice, which a
// client would read as one of its values, unless the client reads it as a
// list.
func TestSingle(t *testing.T) {
	for query, want := range map[string]string{
		"a=1&b=2":                   "",
		"a=1&a=1":                   `parameter a="1,1": want given once`,
		"a=1&tags=x&tags=y":         "",
		"prefix=p&prefix=q&a=1&a=2": `parameter prefix="p,q": want given once`, // the first error
	} {
		p := params(t, query)
		p.String("prefix", "")
		err := p.Single("tags")
		if want == "" && err != nil || want != "" && (!errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), want)) {
			t.Errorf("?%s: Single = %v; want %q", query, err, want)
		}
	}
}

// NoUser refuses a user part, with or without a password, without quoting
// it.
func TestNoUser(t *testing.T) {
	for raw, want := range map[string]string{
		"x://h/":              "",
		"x://s3cret@h/":       "a x URL takes no user or password: no login",
		"x://u:s3cret@h/":     "a x URL takes no user or password: no login",
		"x://:s3cret@h/":      "a x URL takes no user or password: no login",
		"x://@h/":             "a x URL takes no user or password: no login",
		"x:///path":           "",
		"x://s3cret@/path/db": "a x URL takes no user or password: no login",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		err = NoUser(u, "no login")
		if want == "" && err != nil || want != "" && (!errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret")) {
			t.Errorf("NoUser(%s) = %v; want %q", raw, err, want)
		}
	}
}

// Hosts splits a host list, and refuses an empty entry, which a client
// would read as localhost or skip.
func TestHosts(t *testing.T) {
	for host, want := range map[string]string{
		"h1:1":           "[h1:1]",
		"h1:1,[::1]:2":   "[h1:1 [::1]:2]",
		"h1:1,,h2:2":     `host list "h1:1,,h2:2" has an empty entry`,
		",h2:2":          `host list ",h2:2" has an empty entry`,
		"h1:1,":          `host list "h1:1," has an empty entry`,
		"h1:1,h2:2,h1:1": `host list "h1:1,h2:2,h1:1" names h1:1 twice`,
		"h1:x,h2:2":      "host h1:x: want a port number",
		"h1:0,h2:2":      "host h1:0: want a port number",
		"h1:65536,h2:2":  "host h1:65536: want a port number",
		"h1,[::1]":       "[h1 [::1]]",
	} {
		hosts, err := Hosts(&url.URL{Scheme: "x", Host: host})
		got := fmt.Sprint(hosts)
		if err != nil {
			got = err.Error()
			if !errors.Is(err, cache.ErrInvalidURL) {
				t.Errorf("Hosts(%q): %v does not wrap cache.ErrInvalidURL", host, err)
			}
		}
		if !strings.Contains(got, want) {
			t.Errorf("Hosts(%q) = %s; want %s", host, got, want)
		}
	}
}
