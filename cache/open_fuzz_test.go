package cache

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzRedact checks that redact hides a password wherever a URL may carry
// one (the user part, an opaque "user:password@host", a secret-named
// parameter, a URL given as a parameter value), whatever surrounds it, and
// leaves a URL without one as it was given.
func FuzzRedact(f *testing.F) {
	f.Add(uint8(0), "redis", "user", "s3cret", "host:1/0", "prefix=a")
	f.Add(uint8(1), "postgresql", "u", "s3cret", "h/db", "")
	f.Add(uint8(2), "x", "", "s3cret", "h", "Secret_Key")
	f.Add(uint8(3), "dynamodb", "u", "s3cret", "t", "region=x")
	f.Add(uint8(4), "mem", "", "", "", "capacity=1MiB")
	f.Fuzz(func(t *testing.T, form uint8, scheme, user, secret, rest, query string) {
		var raw string
		switch form % 5 {
		case 0:
			raw = scheme + "://" + user + ":" + secret + "@" + rest + "?" + query
		case 1:
			raw = scheme + ":" + user + ":" + secret + "@" + rest
		case 2:
			raw = scheme + "://" + rest + "?" + query + "&password=" + url.QueryEscape(secret)
		case 3:
			raw = scheme + "://" + rest + "?" + query + "&endpoint=" + url.QueryEscape("http://"+user+":"+secret+"@proxy")
		case 4:
			// No secret: the URL comes back as given.
			raw = scheme + "://" + rest + "?" + query
			u, err := url.Parse(raw)
			if err != nil {
				return
			}
			lower := strings.ToLower(raw)
			if _, qerr := url.ParseQuery(u.RawQuery); qerr != nil || u.Fragment != "" || strings.ContainsAny(raw, "@") ||
				strings.Contains(lower, "password") || strings.Contains(lower, "secret") || strings.Contains(lower, "token") {
				return
			}
			if shown := redact(raw, u); shown != raw {
				t.Fatalf("redact(%q) = %q; want it unchanged, it holds no secret", raw, shown)
			}
			return
		}
		// Out of scope: a secret found elsewhere in the URL, or one that
		// the URL's own rewriting could spell (a lowercased scheme, %XX
		// escapes, the mask), and a secret or user holding a URL's
		// delimiters, which a URL writes escaped.
		if len(secret) < 4 || strings.ContainsAny(secret, "x%:@/?#&=;+ ") || strings.ContainsAny(user, "%:@/?#&=;+ ") ||
			!strings.ContainsAny(secret, "ghijklmnopqrstuvwyz") ||
			strings.Contains(strings.ToLower(scheme+user+rest+query), strings.ToLower(secret)) {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" { // Open shows no URL without a scheme
			return
		}
		if shown := redact(raw, u); strings.Contains(shown, secret) {
			t.Fatalf("redact(%q) = %q still shows %q", raw, shown, secret)
		}
	})
}
