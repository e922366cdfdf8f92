package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// Defaults. Those that Flask-Session also has are Flask-Session's.
const (
	// DefaultCookieName is the name of the session cookie (Flask's
	// SESSION_COOKIE_NAME).
	DefaultCookieName = "session"
	// DefaultKeyPrefix goes before the (hashed) id in store keys
	// (SESSION_KEY_PREFIX).
	DefaultKeyPrefix = "session:"
	// DefaultIDLength is the number of random bytes in a session id
	// (SESSION_ID_LENGTH): 256 bits, 43 characters of base64url.
	DefaultIDLength = 32
	// DefaultLifetime is the longest a session lives
	// (PERMANENT_SESSION_LIFETIME): 31 days.
	DefaultLifetime = 31 * 24 * time.Hour
	// DefaultSweepInterval is how often expired entries are removed from
	// an adapter that implements cache.Sweeper.
	DefaultSweepInterval = 5 * time.Minute
	// DefaultStoreTimeout bounds each save: taking the session's lock,
	// reading, merging and writing.
	DefaultStoreTimeout = 5 * time.Second
	// MinIDLength is the fewest random bytes WithIDLength accepts.
	MinIDLength = 16
)

// Option configures a Manager.
type Option func(*options)

type options struct {
	cookieName    string
	prefix        string
	idBytes       int
	permanent     bool
	lifetime      time.Duration
	idle          time.Duration
	refresh       bool
	path          string
	domain        string
	secure        bool
	httpOnly      bool
	sameSite      http.SameSite
	partitioned   bool
	hashIDs       bool
	signKeys      [][]byte
	codec         cache.Codec
	errorHandler  func(http.ResponseWriter, *http.Request, error)
	logger        *slog.Logger
	sweepInterval time.Duration
	storeTimeout  time.Duration

	flask       bool
	flaskSecret string
	// Options that FlaskCompatible fixes, to report a contradiction.
	setCodec, setSigning, setHashing bool
}

func defaults() options {
	return options{
		cookieName:    DefaultCookieName,
		prefix:        DefaultKeyPrefix,
		idBytes:       DefaultIDLength,
		permanent:     true,
		lifetime:      DefaultLifetime,
		refresh:       true,
		path:          "/",
		httpOnly:      true,
		sameSite:      http.SameSiteLaxMode,
		hashIDs:       true,
		codec:         cache.CBORCodec{},
		sweepInterval: DefaultSweepInterval,
		storeTimeout:  DefaultStoreTimeout,
	}
}

func (o *options) validate() error {
	var errs []error
	if !validCookieName(o.cookieName) {
		errs = append(errs, fmt.Errorf("cookie name %q is not a valid HTTP token", o.cookieName))
	}
	if o.idBytes < MinIDLength {
		errs = append(errs, fmt.Errorf("id length %d is below the minimum of %d bytes", o.idBytes, MinIDLength))
	}
	if o.lifetime <= 0 {
		errs = append(errs, fmt.Errorf("lifetime must be positive, got %v", o.lifetime))
	}
	if o.idle < 0 {
		errs = append(errs, fmt.Errorf("idle timeout must be zero (none) or positive, got %v", o.idle))
	}
	if o.sweepInterval < 0 {
		errs = append(errs, fmt.Errorf("sweep interval must be zero (no sweeping) or positive, got %v", o.sweepInterval))
	}
	if o.storeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("store timeout must be positive, got %v", o.storeTimeout))
	}
	if o.codec == nil {
		errs = append(errs, errors.New("codec is nil"))
	}
	for i, k := range o.signKeys {
		if len(k) == 0 {
			errs = append(errs, fmt.Errorf("signing key %d is empty", i))
		}
	}
	if o.flask && (o.setCodec || o.setSigning || o.setHashing) {
		errs = append(errs, errors.New("FlaskCompatible fixes the codec, the signing and the id hashing: drop WithCodec, WithSigningKeys and WithIDHashing"))
	}
	return errors.Join(errs...)
}

func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// WithCookieName sets the session cookie's name (default
// DefaultCookieName).
func WithCookieName(name string) Option { return func(o *options) { o.cookieName = name } }

// WithKeyPrefix sets what goes before the id in store keys (default
// DefaultKeyPrefix). Give each application sharing a backend its own
// prefix.
func WithKeyPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithIDLength sets how many random bytes a new session id has (default
// DefaultIDLength, at least MinIDLength). Cookies holding an id of another
// length are rejected before the store is asked.
func WithIDLength(n int) Option { return func(o *options) { o.idBytes = n } }

// WithPermanent sets whether new sessions are permanent (default true, as
// SESSION_PERMANENT). A permanent session's cookie carries an expiry; the
// cookie of a session that is not permanent lasts until the browser closes.
// Either way the stored entry expires after the lifetime.
// Session.SetPermanent changes it per session.
func WithPermanent(on bool) Option { return func(o *options) { o.permanent = on } }

// WithLifetime sets the longest a session lives, counted from when it was
// first stored (default DefaultLifetime). Activity does not extend it; use
// WithIdleTimeout to also end sessions that go unused. For records written
// by Flask-Session, which carry no creation time, the lifetime counts from
// each save, as in Flask.
func WithLifetime(d time.Duration) Option { return func(o *options) { o.lifetime = d } }

// WithIdleTimeout ends a session that sees no request for d, besides the
// lifetime (default 0: no idle timeout). The stored entry's TTL is then at
// most d, and each request that refreshes the session (see
// WithRefreshEachRequest) or changes it pushes the end back.
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idle = d } }

// WithRefreshEachRequest sets whether every response re-sends the cookie of
// a stored session and pushes its expiry back (default true, as
// SESSION_REFRESH_EACH_REQUEST). The stored entry is rewritten only when its
// expiry actually moves: with an idle timeout, or for a record with no
// creation time (Flask's). When off, a request that changes nothing sends no
// cookie and writes nothing to the store.
func WithRefreshEachRequest(on bool) Option { return func(o *options) { o.refresh = on } }

// WithCookiePath sets the cookie's Path (default "/").
func WithCookiePath(path string) Option { return func(o *options) { o.path = path } }

// WithCookieDomain sets the cookie's Domain (default none: the cookie goes
// to the host that set it only).
func WithCookieDomain(domain string) Option { return func(o *options) { o.domain = domain } }

// WithCookieSecure sets the cookie's Secure attribute (default false, so
// plain-HTTP development works; turn it on in production behind HTTPS).
func WithCookieSecure(on bool) Option { return func(o *options) { o.secure = on } }

// WithCookieHTTPOnly sets the cookie's HttpOnly attribute (default true:
// scripts in the page cannot read the id).
func WithCookieHTTPOnly(on bool) Option { return func(o *options) { o.httpOnly = on } }

// WithCookieSameSite sets the cookie's SameSite attribute (default
// http.SameSiteLaxMode; Flask leaves it unset, Lax is the safer default).
func WithCookieSameSite(s http.SameSite) Option { return func(o *options) { o.sameSite = s } }

// WithCookiePartitioned sets the cookie's Partitioned attribute (CHIPS;
// default false). Browsers require Secure with it.
func WithCookiePartitioned(on bool) Option { return func(o *options) { o.partitioned = on } }

// WithIDHashing sets whether store keys hold the SHA-256 of the id instead of
// the id (default true), so that whoever can read the store's keys cannot
// take over the sessions.
func WithIDHashing(on bool) Option {
	return func(o *options) { o.hashIDs = on; o.setHashing = true }
}

// WithSigningKeys signs the session cookie: value = id + "." +
// base64url(HMAC-SHA256(k, id)), where k is derived from current. Cookies
// signed with current or any of previous are accepted, so keys can be
// rotated: sign with a new key, keep the old ones in previous until the
// cookies they signed have expired. A cookie signed with a previous key is
// re-signed with current on its next response. Signatures are compared in
// constant time. Default: no signing; ids of 256 random bits cannot be
// guessed, signing adds a second secret.
func WithSigningKeys(current []byte, previous ...[]byte) Option {
	return func(o *options) {
		o.signKeys = append([][]byte{current}, previous...)
		o.setSigning = true
	}
}

// WithCodec sets how session values are encoded (default cache.CBORCodec;
// cache.JSONCodec and MsgpackCodec work too, as does any cache.Codec).
func WithCodec(c cache.Codec) Option {
	return func(o *options) { o.codec = c; o.setCodec = true }
}

// WithErrorHandler sets what answers a request whose session could not be
// loaded or saved (default: the error is logged and the client gets a 500
// with the status text only). It is called before anything was written to
// the response; the handler's own writes after a failed save are discarded.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(o *options) { o.errorHandler = h }
}

// WithLogger sets where store errors and dropped changes are logged (default
// slog.Default(), looked up when a message is logged).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithSweepInterval sets how often the manager asks an adapter that
// implements cache.Sweeper to delete its expired entries (default
// DefaultSweepInterval; 0 turns sweeping off). Close stops it.
func WithSweepInterval(d time.Duration) Option { return func(o *options) { o.sweepInterval = d } }

// WithStoreTimeout bounds each save (default DefaultStoreTimeout). Saves run
// on a context that outlives a client's disconnect, so work a handler did is
// not lost because the client went away; this is their deadline. It is also
// how long a session's lock lives, should its holder die.
func WithStoreTimeout(d time.Duration) Option { return func(o *options) { o.storeTimeout = d } }

// FlaskCompatible shares sessions with a Flask application that uses
// Flask-Session 0.7 or 0.8 (the versions that store MessagePack, with
// SESSION_SERIALIZATION_FORMAT left at "msgpack") on the same backend,
// typically Redis: the
// cookie is "session", the store key is "session:" + id (not hashed), and the
// value is a MessagePack map of the session dict, with "_permanent" in it,
// exactly as Flask-Session writes it. When secretKey is not empty the cookie
// is signed as Flask-Session does with SESSION_USE_SIGNER (itsdangerous,
// HMAC-SHA1, salt "flask-session"); pass the Flask app's SECRET_KEY, or ""
// when the Flask app does not sign.
//
// Values are encoded with MsgpackCodec, so Python sees Go structs as dicts
// keyed by their json (or msgpack) field names. "_permanent" is Flask's key
// for Session.Permanent; do not Set it. Records written by Flask carry no
// creation time, so the lifetime counts from each save, as in Flask.
//
// FlaskCompatible fixes the codec, the signing and the id hashing, so it
// cannot be combined with WithCodec, WithSigningKeys or WithIDHashing; other
// options (WithLifetime to match PERMANENT_SESSION_LIFETIME, cookie
// attributes) apply as usual. The lock that merges concurrent requests (see
// the package documentation) is honoured by Go servers only; a Flask writer
// still overwrites the whole session.
func FlaskCompatible(secretKey string) Option {
	return func(o *options) {
		o.flask = true
		o.flaskSecret = secretKey
		o.cookieName = DefaultCookieName
		o.prefix = DefaultKeyPrefix
		o.hashIDs = false
		o.codec = MsgpackCodec{}
	}
}
