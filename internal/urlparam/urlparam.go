// Package urlparam reads the query parameters of the URLs given to
// cache.Open, for the adapter packages that register a scheme.
//
// Every parameter an adapter reads is taken out of the query; what is left
// is either handed on to the client library, which rejects what it does not
// know, or reported by Done as unknown. Errors wrap cache.ErrInvalidURL and
// name the parameter and the form its value should have.
package urlparam

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// Params are the query parameters of one URL not read yet.
type Params struct {
	q     url.Values
	known []string // every parameter asked for, present or not
	err   error
}

// New returns the query parameters of u. A query that cannot be parsed is
// reported by Err and Done, and so is a fragment, which no adapter reads.
func New(u *url.URL) *Params {
	q, err := url.ParseQuery(u.RawQuery)
	p := &Params{q: q}
	switch {
	case u.Fragment != "":
		// The error does not quote the fragment: it may be the end of
		// a password that held an unescaped '#'.
		p.err = Errorf("a fragment (#...) is not part of a %s URL (write '#' in a password or a value as %%23)", u.Scheme)
	case err != nil:
		p.err = fmt.Errorf("%w: query: %w", cache.ErrInvalidURL, err)
	}
	return p
}

// take removes name from the query and returns its value. A parameter given
// twice is an error: which of the two was meant is a guess.
func (p *Params) take(name string) (string, bool) {
	p.known = append(p.known, name)
	vs, ok := p.q[name]
	if !ok {
		return "", false
	}
	delete(p.q, name)
	if len(vs) > 1 {
		p.fail(name, strings.Join(vs, ","), "given once")
	}
	return vs[0], true
}

func (p *Params) fail(name, value, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: parameter %s=%q: want %s", cache.ErrInvalidURL, name, value, want)
	}
}

// String returns the value of parameter name, or def when it is absent.
func (p *Params) String(name, def string) string {
	if v, ok := p.take(name); ok {
		return v
	}
	return def
}

// Int returns the value of parameter name, an integer of at least min, or
// def when it is absent.
func (p *Params) Int(name string, def, min int) int {
	v, ok := p.take(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		p.fail(name, v, fmt.Sprintf("an integer of at least %d", min))
		return def
	}
	return n
}

// sizeUnits are the suffixes Size accepts, longest first so that "MiB" is
// not read as "B".
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// Size returns the value of parameter name, a positive number of bytes
// with an optional unit (B, KB, MB, GB, KiB, MiB, GiB), or def when it is
// absent.
func (p *Params) Size(name string, def int64) int64 {
	v, ok := p.take(name)
	if !ok {
		return def
	}
	num, mult := v, int64(1)
	for _, u := range sizeUnits {
		if n, found := strings.CutSuffix(v, u.suffix); found {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		p.fail(name, v, `a positive size in bytes such as "1048576", "64MiB" or "1GB"`)
		return def
	}
	return n * mult
}

// Duration returns the value of parameter name, a time.Duration of zero or
// more such as "0", "500ms" or "1m", or def when it is absent.
func (p *Params) Duration(name string, def time.Duration) time.Duration {
	v, ok := p.take(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail(name, v, `a duration such as "500ms" or "1m"`)
		return def
	}
	return d
}

// Bool returns the value of parameter name, "true" or "false" (or "1" or
// "0"), or def when it is absent. A parameter given without a value, as in
// "?create_table", means true.
func (p *Params) Bool(name string, def bool) bool {
	v, ok := p.take(name)
	if !ok {
		return def
	}
	switch v {
	case "", "true", "1":
		return true
	case "false", "0":
		return false
	}
	p.fail(name, v, "true or false")
	return def
}

// Err returns the first error met reading parameters.
func (p *Params) Err() error { return p.err }

// Single returns Err or, failing that, an error for a parameter not read
// yet that is given more than once, unless lists names it: a client
// library that reads it would keep one of its values, the first or the
// last, without a word. lists are the parameters the client reads as
// lists, such as MongoDB's readPreferenceTags.
func (p *Params) Single(lists ...string) error {
	for _, k := range slices.Sorted(maps.Keys(p.q)) {
		if vs := p.q[k]; len(vs) > 1 && !slices.Contains(lists, k) {
			p.fail(k, strings.Join(vs, ","), "given once")
		}
	}
	return p.err
}

// Rest returns the parameters not read, encoded as a query, for a client
// library that parses its own; an adapter that does so must call Single
// rather than Done.
func (p *Params) Rest() string { return p.q.Encode() }

// Unread returns a copy of the parameters not read, for an adapter that
// edits them before handing them on; like Rest, it goes with Single.
func (p *Params) Unread() url.Values {
	q := make(url.Values, len(p.q))
	for k, vs := range p.q {
		q[k] = slices.Clone(vs)
	}
	return q
}

// Done returns the first error met reading parameters or, failing that, an
// error naming the parameters that were never read: a parameter the adapter
// does not know is a mistake to report, not to ignore. The message lists
// the parameters the adapter asked for, which are the ones it accepts.
func (p *Params) Done() error {
	if p.err != nil {
		return p.err
	}
	if len(p.q) == 0 {
		return nil
	}
	unknown := make([]string, 0, len(p.q))
	for k := range p.q {
		unknown = append(unknown, k)
	}
	slices.Sort(unknown)
	accepts := "no parameters"
	if len(p.known) > 0 {
		known := slices.Clone(p.known)
		slices.Sort(known)
		accepts = "parameters " + strings.Join(slices.Compact(known), ", ")
	}
	return fmt.Errorf("%w: unknown parameter %s (this scheme accepts %s)", cache.ErrInvalidURL, strings.Join(unknown, ", "), accepts)
}

// Errorf returns an error wrapping cache.ErrInvalidURL, for a part of the
// URL other than its parameters.
func Errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", cache.ErrInvalidURL, fmt.Sprintf(format, args...))
}

// Timeout returns the value of the timeout parameter, the per-call timeout
// of a networked adapter: a positive duration such as "500ms", or def when
// it is absent.
func (p *Params) Timeout(def time.Duration) time.Duration {
	const name = "timeout"
	v, ok := p.take(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(name, v, `a positive duration such as "500ms" (every call must be bounded)`)
		return def
	}
	return d
}

// NoUser returns an error for a URL with a user part, with or without a
// password, for a scheme that has nothing to log in to; why says so. The
// error does not quote the user part.
func NoUser(u *url.URL, why string) error {
	if u.User == nil {
		return nil
	}
	return Errorf("a %s URL takes no user or password: %s", u.Scheme, why)
}

// Hosts returns the hosts of a URL whose host is a comma-separated list, as
// in "memcached://h1:11211,h2:11211". An empty entry, which a client would
// read as localhost or skip, a host listed twice and a port that is not a
// number (url.Parse checks only the last one) are errors.
func Hosts(u *url.URL) ([]string, error) {
	hosts := strings.Split(u.Host, ",")
	for i, h := range hosts {
		if h == "" {
			return nil, Errorf("host list %q has an empty entry", u.Host)
		}
		if slices.Contains(hosts[:i], h) {
			return nil, Errorf("host list %q names %s twice", u.Host, h)
		}
		if _, port, err := net.SplitHostPort(h); err == nil {
			if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
				return nil, Errorf("host %s: want a port number", h)
			}
		}
	}
	return hosts, nil
}
