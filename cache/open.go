package cache

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// OpenFunc opens an adapter configured by u, whose scheme it was registered
// for. The adapter it returns owns any client it created: its Close closes
// that client too. A URL it cannot use makes it return an error wrapping
// ErrInvalidURL.
type OpenFunc func(ctx context.Context, u *url.URL) (Adapter, error)

var registry = struct {
	sync.RWMutex
	m map[string]OpenFunc
}{m: map[string]OpenFunc{}}

// Register makes an adapter available to Open under a URL scheme, the way
// database/sql drivers register a driver name: an adapter package calls it
// from its init function, so importing the package is what makes its
// schemes known. Schemes are case-insensitive. Register panics if open is
// nil, if scheme is not a valid URL scheme, or if the scheme is taken.
func Register(scheme string, open OpenFunc) {
	if open == nil {
		panic("cache: Register of a nil OpenFunc for scheme " + scheme)
	}
	if !validScheme(scheme) {
		panic(fmt.Sprintf("cache: Register of an invalid URL scheme %q", scheme))
	}
	scheme = strings.ToLower(scheme)
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[scheme]; dup {
		panic("cache: Register called twice for scheme " + scheme)
	}
	registry.m[scheme] = open
}

// validScheme reports whether s is a scheme as RFC 3986 defines one.
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && ('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	s := make([]string, 0, len(registry.m))
	for k := range registry.m {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Open returns the adapter that rawURL describes, opened by the package that
// registered its scheme. Import the adapter packages a program may open,
// for instance with a blank import:
//
//	import _ "github.com/cachelib-go/cachelib/cache/adapters/rediscache"
//
// Each adapter package documents its URL form and parameters. Parameters
// that no part of the adapter or its client understands are an error, never
// ignored, so that a typo cannot silently change a configuration. Errors
// are *OpenError values that wrap ErrUnknownScheme, ErrInvalidURL or the
// error met while connecting; they show the URL with its password hidden.
//
// ctx bounds whatever Open does before it returns (connecting, creating a
// table); it is not kept by the adapter. Close the adapter when done: that
// also closes the client Open created.
func Open(ctx context.Context, rawURL string) (Adapter, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only
		// what went wrong.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return nil, &OpenError{URL: "(unparsable)", Err: fmt.Errorf("%w: %w", ErrInvalidURL, err)}
	}
	shown := redact(rawURL, u)
	if u.Scheme == "" {
		// Without a scheme, where a password would be is anyone's guess.
		return nil, &OpenError{URL: "(no scheme)", Err: fmt.Errorf("%w: no scheme (want scheme://...; registered: %s)", ErrInvalidURL, strings.Join(Schemes(), ", "))}
	}
	registry.RLock()
	open := registry.m[strings.ToLower(u.Scheme)]
	registry.RUnlock()
	if open == nil {
		return nil, &OpenError{URL: shown, Err: fmt.Errorf("%w %q (registered: %s; is the adapter package imported?)", ErrUnknownScheme, u.Scheme, strings.Join(Schemes(), ", "))}
	}
	a, err := open(ctx, u)
	if err != nil {
		return nil, &OpenError{URL: shown, Err: err}
	}
	return a, nil
}

// redact returns rawURL, parsed as u, with every secret it can spot replaced
// by "xxxxx": the password of the user part, also in an opaque URL such as
// "postgresql:user:pw@host", parameters whose names say they hold a
// secret, passwords of URLs given as parameter values, any fragment, and a
// query that does not parse. A URL without
// secrets is returned as given (url.URL.String would turn "mem://?x" into
// "mem:?x").
func redact(rawURL string, u *url.URL) string {
	r := *u
	changed := false
	if _, ok := u.User.Password(); ok {
		r.User, changed = url.UserPassword(u.User.Username(), "xxxxx"), true
	}
	if o, ok := hideUserinfo(u.Opaque); ok {
		r.Opaque, changed = o, true
	}
	if u.Host == "" && u.User == nil {
		// "redis:/user:pw@host" has its user part in the path.
		if p, ok := hideUserinfo(u.Path); ok {
			r.Path, r.RawPath, changed = p, "", true
		}
	}
	if u.Fragment != "" {
		// No adapter reads a fragment; it is most likely a cut secret.
		r.Fragment, r.RawFragment, changed = "xxxxx", "", true
	}
	if q, err := url.ParseQuery(u.RawQuery); err != nil {
		// A query that does not parse cannot be searched for secrets.
		r.RawQuery, changed = "xxxxx", true
	} else {
		queryChanged := false
		for k, vs := range q {
			for i, v := range vs {
				name := strings.ToLower(k)
				if strings.Contains(name, "password") || strings.Contains(name, "secret") || strings.Contains(name, "token") {
					vs[i], queryChanged = "xxxxx", true
				} else if h, ok := hideAuthority(v); ok {
					vs[i], queryChanged = h, true
				}
			}
		}
		if queryChanged {
			r.RawQuery, changed = q.Encode(), true
		}
	}
	if !changed {
		return rawURL
	}
	return r.String()
}

// hideUserinfo replaces what lies between the first ':' and the last '@' of
// s, where a URL without "//" keeps "user:password@host", with "xxxxx".
func hideUserinfo(s string) (string, bool) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s, false
	}
	colon := strings.IndexByte(s[:at], ':')
	if colon < 0 {
		return s, false
	}
	return s[:colon+1] + "xxxxx" + s[at:], true
}

// hideAuthority hides the password of a URL given as a parameter value,
// such as "http://user:pw@proxy:8000/": the user part of what follows "://"
// up to the path. It works on text, since a value may not parse as a URL.
func hideAuthority(v string) (string, bool) {
	i := strings.Index(v, "://")
	if i < 0 {
		return v, false
	}
	rest := v[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	h, ok := hideUserinfo(rest[:end])
	return v[:i+3] + h + rest[end:], ok
}

// OpenError is the error of Open: what went wrong with which URL.
type OpenError struct {
	// URL is the URL given to Open with its password replaced by "xxxxx".
	URL string
	// Err is what went wrong.
	Err error
}

func (e *OpenError) Error() string { return "cache: open " + e.URL + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *OpenError) Unwrap() error { return e.Err }
