package cache

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzRedact checks that redact hides a secret wherever a URL may carry one
// (the user part, user name included, an opaque "user:password@host", a
// credential-named parameter, an item of a name:value list in a value, a
// URL given as a parameter value), whatever surrounds it, returns it among
// the secrets it hid, and leaves a URL without one as it was given.
func FuzzRedact(f *testing.F) {
	f.Add(uint8(0), "redis", "user", "s3cret", "host:1/0", "prefix=a")
	f.Add(uint8(1), "postgresql", "u", "s3cret", "h/db", "")
	f.Add(uint8(2), "x", "", "s3cret", "h", "Secret_Key")
	f.Add(uint8(3), "dynamodb", "u", "s3cret", "t", "region=x")
	f.Add(uint8(4), "mem", "", "", "", "capacity=1MiB")
	f.Add(uint8(5), "redis", "", "s3cret", "host:1/0", "")
	f.Add(uint8(6), "mongodb", "SERVICE_NAME", "s3cret", "h/db/c", "appName=a")
	f.Fuzz(func(t *testing.T, form uint8, scheme, user, secret, rest, query string) {
		var raw string
		switch form % 7 {
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
				credentialName(lower) {
				return
			}
			if shown, secrets := redact(raw, u); shown != raw || len(secrets) > 0 {
				t.Fatalf("redact(%q) = %q, %q; want it unchanged, it holds no secret", raw, shown, secrets)
			}
			return
		case 5:
			raw = scheme + "://" + secret + "@" + rest + "?" + query
		case 6:
			raw = scheme + "://" + rest + "?" + query + "&opts=" + url.QueryEscape(user+":x,AWS_SESSION_TOKEN:"+secret)
		}
		// Out of scope: a secret found elsewhere in the URL, or one that
		// the URL's own rewriting could spell (a lowercased scheme, %XX
		// escapes, the mask), and a secret or user holding a URL's
		// delimiters, which a URL writes escaped, or a rest of the URL that
		// extends the user part to include more than the secret.
		if len(secret) < 4 || strings.ContainsAny(secret, "x%:@/?#&=;,()'\"+ \t\n\v\f\r") || strings.ContainsAny(user, "%:@/?#&=;+ ") ||
			strings.Contains(rest, "@") ||
			!strings.ContainsAny(secret, "ghijklmnopqrstuvwyz") ||
			strings.Contains(strings.ToLower(scheme+user+rest+query), strings.ToLower(secret)) {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" { // Open shows no URL without a scheme
			return
		}
		shown, secrets := redact(raw, u)
		if strings.Contains(shown, secret) {
			t.Fatalf("redact(%q) = %q still shows %q", raw, shown, secret)
		}
		if err := hideSecrets(errString("quoting "+secret), secrets); strings.Contains(err.Error(), secret) {
			t.Fatalf("redact(%q) hid %q, not %q: an error quoting it shows it: %v", raw, secrets, secret, err)
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }
