package cache

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
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
// ignored, so that a typo cannot silently change a configuration; so are
// the other parts of a URL that an adapter does not read (a fragment, a
// user where there is nothing to log in to, a path where none is
// meaningful). Errors are *OpenError values that wrap ErrUnknownScheme,
// ErrInvalidURL or the error met while connecting. They never show a
// credential: the URL is shown with its user part, user name included,
// and the values of parameters whose names suggest a credential (pass,
// pwd, secret, token, key, auth, cred, sig, user, in any case) replaced by
// "xxxxx", and the error text hides those values wherever a driver quotes
// them.
//
// ctx bounds whatever Open does before it returns (connecting, creating a
// table); it is not kept by the adapter. Close the adapter when done: that
// also closes the client Open created.
func Open(ctx context.Context, rawURL string) (Adapter, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password included, and what
		// it wraps quotes the piece it could not read, which may be a
		// piece of a password ("redis://u:pass/word@h" has the port
		// "pass"): keep only what went wrong.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return nil, &OpenError{URL: "(unparsable)", Err: fmt.Errorf("%w: %s", ErrInvalidURL, maskQuoted(err.Error()))}
	}
	shown, secrets := redact(rawURL, u)
	if u.Scheme == "" {
		// Without a scheme, where a password would be is anyone's guess.
		return nil, &OpenError{URL: "(no scheme)", Err: fmt.Errorf("%w: no scheme (want scheme://...; registered: %s)", ErrInvalidURL, strings.Join(Schemes(), ", "))}
	}
	registry.RLock()
	open := registry.m[strings.ToLower(u.Scheme)]
	registry.RUnlock()
	if open == nil {
		err := fmt.Errorf("%w %q (registered: %s; is the adapter package imported?)", ErrUnknownScheme, u.Scheme, strings.Join(Schemes(), ", "))
		return nil, &OpenError{URL: shown, Err: hideSecrets(err, secrets)}
	}
	a, err := open(ctx, u)
	if err != nil {
		return nil, &OpenError{URL: shown, Err: hideSecrets(err, secrets)}
	}
	return a, nil
}

// maskQuoted returns text with what it quotes replaced by the mask.
func maskQuoted(text string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(text, '"')
		if open < 0 {
			break
		}
		end := strings.IndexByte(text[open+1:], '"')
		if end < 0 {
			break
		}
		b.WriteString(text[:open+1] + mask + `"`)
		text = text[open+end+2:]
	}
	return b.String() + text
}

// mask replaces each secret redact hides.
const mask = "xxxxx"

// credentialWords are the words that make a parameter name, or the name of
// an item of a name:value list, say that its value is a credential or half
// of one (in any case: "password", "_auth_pass", "X-Amz-Signature",
// "AWS_SESSION_TOKEN", "apiKey", "sig" of Azure SAS tokens, "user" and
// "username" as the user part is hidden too). Some innocent names match
// too ("authSource", "sslkey", which names a file); hiding their values
// costs only a little detail in an error message.
var credentialWords = []string{"pass", "pwd", "secret", "token", "key", "auth", "cred", "sig", "user"}

// credentialName reports whether name says that its value is a credential.
func credentialName(name string) bool {
	name = strings.ToLower(name)
	return slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(name, w) })
}

// A redaction is a URL as Open shows it, and the secrets hidden from it.
type redaction struct {
	secrets []string
	changed bool
}

// hide records secret and returns the mask that replaces it.
func (r *redaction) hide(secret string) string {
	r.changed = true
	if secret != "" {
		r.secrets = append(r.secrets, secret)
		if s, err := url.PathUnescape(secret); err == nil && s != secret {
			r.secrets = append(r.secrets, s)
		}
	}
	return mask
}

// hideAll hides text in which secrets cannot be told from the rest (a
// fragment, a query that does not parse): a driver may quote any piece of
// it, so every piece between delimiters is a secret too.
func (r *redaction) hideAll(text string) string {
	for piece := range strings.FieldsFuncSeq(text, isDelimiter) {
		r.hide(piece)
		if p, err := url.QueryUnescape(piece); err == nil && p != piece {
			for piece := range strings.FieldsFuncSeq(p, isDelimiter) {
				r.hide(piece)
			}
		}
	}
	return r.hide(text)
}

// isDelimiter reports whether c delimits the parts of a URL or of the
// lists a parameter value may hold.
func isDelimiter(c rune) bool { return strings.ContainsRune("&;,=:@/?#", c) || unicode.IsSpace(c) }

// hideUserinfo hides a user part written as text, "user:password" or
// "user", as a URL without "//" or a URL inside a parameter value has it.
func (r *redaction) hideUserinfo(userinfo string) string {
	user, pw, _ := strings.Cut(userinfo, ":")
	r.hide(user)
	r.hide(pw)
	// Where the user part starts and the password ends is a guess when
	// they hold delimiters too.
	for piece := range strings.FieldsFuncSeq(userinfo, isDelimiter) {
		r.hide(piece)
	}
	return mask
}

// redact returns rawURL, parsed as u, with every part that may hold a
// credential replaced by "xxxxx", and the secrets it hid: the user part
// (user name too, which may be a token), also in an opaque URL such as
// "postgresql:user:pw@host" or a path such as "redis:/user:pw@host",
// parameters whose names say they hold a credential, the items of
// name:value and name=value lists inside values whose names say so, the
// user parts of URLs given as parameter values, any fragment, and a query
// that does not parse. A URL without secrets is returned as given
// (url.URL.String would turn "mem://?x" into "mem:?x").
func redact(rawURL string, u *url.URL) (string, []string) {
	var r redaction
	out := *u
	if u.User != nil {
		name, pw := u.User.Username(), ""
		if name != "" {
			name = r.hide(name)
		}
		if p, ok := u.User.Password(); ok {
			pw = r.hide(p)
			out.User = url.UserPassword(name, pw)
		} else {
			out.User = url.User(name)
		}
	}
	if at := strings.LastIndexByte(u.Opaque, '@'); at >= 0 {
		out.Opaque = r.hideUserinfo(u.Opaque[:at]) + u.Opaque[at:]
	}
	if u.Host == "" && u.User == nil {
		if at := strings.LastIndexByte(u.Path, '@'); at >= 0 {
			start := len(u.Path) - len(strings.TrimLeft(u.Path, "/"))
			out.Path, out.RawPath = u.Path[:start]+r.hideUserinfo(u.Path[start:at])+u.Path[at:], ""
		}
	}
	if u.Fragment != "" {
		// No adapter reads a fragment; it is most likely a cut secret.
		out.Fragment, out.RawFragment = r.hideAll(u.Fragment), ""
	}
	if q, err := url.ParseQuery(u.RawQuery); err != nil {
		// A query that does not parse cannot be searched for secrets.
		out.RawQuery = r.hideAll(u.RawQuery)
	} else {
		queryChanged := false
		for k, vs := range q {
			for i, v := range vs {
				if credentialName(k) {
					vs[i], queryChanged = r.hide(v), true
				} else if h := r.hideInValue(v); h != v {
					vs[i], queryChanged = h, true
				}
			}
		}
		if queryChanged {
			out.RawQuery = q.Encode()
		}
	}
	if !r.changed {
		return rawURL, nil
	}
	return out.String(), r.secrets
}

// hideInValue hides the credentials inside a parameter value: the user
// part of a URL, as in "http://user:pw@proxy:8000/", and the values of the
// items of a list whose names say they are credentials, as in
// "SERVICE_NAME:x,AWS_SESSION_TOKEN:secret", "-c password=secret" or
// "key('secret')". It works on text, since a value may not parse as a URL.
func (r *redaction) hideInValue(v string) string {
	if i := strings.Index(v, "://"); i >= 0 {
		rest := v[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			v = v[:i+3] + r.hideUserinfo(rest[:at]) + rest[at:]
		}
		// Nothing reads the fragment of a URL given as a value either.
		if hash := strings.IndexByte(v, '#'); hash >= 0 {
			v = v[:hash+1] + r.hideAll(v[hash+1:])
		}
	}
	var b strings.Builder
	for v != "" {
		end := strings.IndexFunc(v, isListSeparator)
		if end < 0 {
			end = len(v)
		}
		item := v[:end]
		if i := strings.IndexAny(item, ":=("); i > 0 && i+1 < len(item) && credentialName(item[:i]) {
			item = item[:i+1] + r.hide(strings.Trim(item[i+1:], `'"()`))
		}
		b.WriteString(item)
		_, size := utf8.DecodeRuneInString(v[end:])
		b.WriteString(v[end : end+size])
		v = v[end+size:]
	}
	return b.String()
}

// isListSeparator reports whether c separates the items of a list inside
// a parameter value.
func isListSeparator(c rune) bool { return c == ',' || c == ';' || c == '&' || unicode.IsSpace(c) }

// minSought is the length of the shortest secret sought in the text of a
// driver's error: a shorter one ("1", "on", "sa") would match ordinary
// words and numbers there, and drivers quote user names, not passwords.
const minSought = 4

// hiddenError is an error whose text hides the secrets of the URL Open was
// given, in the forms a driver may quote them (as given, query-escaped or
// path-escaped, in any ASCII case): pgx, for one, names the user it
// connected as.
type hiddenError struct {
	err   error
	forms []string // ASCII lower case, longest first
}

// hideSecrets returns err with the secrets hidden from its text.
func hideSecrets(err error, secrets []string) error {
	h := &hiddenError{err: err}
	for _, s := range secrets {
		if len(s) >= minSought {
			h.forms = append(h.forms, lowerASCII(s), lowerASCII(url.QueryEscape(s)), lowerASCII(url.PathEscape(s)))
		}
	}
	if len(h.forms) == 0 {
		return err
	}
	// Longest first, so that a secret that holds another is hidden whole.
	slices.SortFunc(h.forms, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	h.forms = slices.Compact(h.forms)
	return h
}

func (e *hiddenError) Error() string {
	text := e.err.Error()
	for _, form := range e.forms {
		var b strings.Builder
		lower, last := lowerASCII(text), 0
		for i := 0; i <= len(text)-len(form); {
			at := strings.Index(lower[i:], form)
			if at < 0 {
				break
			}
			start, end := i+at, i+at+len(form)
			// A secret that starts or ends with a letter or digit is
			// hidden where it is a word of its own, not inside a
			// longer one ("root" in "sslrootcert", "cachelib" in
			// "cachelib_cache").
			if joined(text, start-1, start) || joined(text, end, end-1) {
				i = start + 1
				continue
			}
			b.WriteString(text[last:start] + mask)
			last, i = end, end
		}
		text = b.String() + text[last:]
	}
	return text
}

// lowerASCII returns s with its ASCII letters in lower case, and every
// other byte as it is, so that indexes into it are indexes into s.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// joined reports whether the bytes at outside and inside of s, one just
// outside a match and one inside it, both belong to a word: an ASCII
// letter, digit or '_', as in an identifier.
func joined(s string, outside, inside int) bool {
	word := func(i int) bool {
		if i < 0 || i >= len(s) {
			return false
		}
		c := s[i]
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
	}
	return word(outside) && word(inside)
}

// Unwrap returns the error whose text e hides secrets from.
func (e *hiddenError) Unwrap() error { return e.err }

// OpenError is the error of Open: what went wrong with which URL.
type OpenError struct {
	// URL is the URL given to Open with every part that may hold a
	// credential replaced by "xxxxx" (see Open).
	URL string
	// Err is what went wrong. Its text hides the credentials of the URL
	// wherever it quotes them; unwrapping it gives the error as the
	// adapter or its driver made it.
	Err error
}

func (e *OpenError) Error() string { return "cache: open " + e.URL + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *OpenError) Unwrap() error { return e.Err }
