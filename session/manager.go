package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

var (
	// ErrNoSession is returned by Manager methods given a context that
	// did not come through that manager's Middleware.
	ErrNoSession = errors.New("session: no session in the context: is the handler wrapped by the manager's Middleware?")

	// ErrResponseStarted is returned by Regenerate once the response has
	// started: the new id could no longer reach the client.
	ErrResponseStarted = errors.New("session: the response has started; the session cookie can no longer change")
)

// Manager loads and saves sessions through a cache.Adapter. Create it with
// NewManager, wrap handlers with Middleware, and Close it when done. It is
// safe for concurrent use.
type Manager struct {
	a      cache.Adapter
	o      options
	format format
	signer *signer
	// seed keys the hash that tells whether a record changed since this
	// request read it (see Session.sum).
	seed maphash.Seed

	closeOnce sync.Once
	stopSweep context.CancelFunc
	swept     chan struct{}
}

// NewManager returns a Manager that keeps sessions in a, configured by
// opts on top of the defaults listed with each option. When a implements
// cache.Sweeper, the Manager starts a goroutine that deletes expired entries
// every sweep interval, until Close.
//
// NewManager panics when a is nil or an option is invalid (an empty cookie
// name, an id shorter than MinIDLength, a lifetime that is not positive, an
// empty signing key, FlaskCompatible combined with an option it fixes): a
// configuration mistake stops the program at startup, as http.ServeMux does
// with a bad pattern, instead of failing every request.
func NewManager(a cache.Adapter, opts ...Option) *Manager {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	err := o.validate()
	if a == nil {
		err = errors.Join(errors.New("adapter is nil"), err)
	}
	if err != nil {
		panic("session.NewManager: " + err.Error())
	}
	m := &Manager{a: a, o: o, format: nativeFormat{o.codec}, seed: maphash.MakeSeed()}
	switch {
	case o.flask:
		m.format = flaskFormat{}
		if o.flaskSecret != "" {
			m.signer = flaskSigner(o.flaskSecret)
		}
	case len(o.signKeys) > 0:
		m.signer = nativeSigner(o.signKeys[0], o.signKeys[1:])
	}
	if sw, ok := a.(cache.Sweeper); ok && o.sweepInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		m.stopSweep, m.swept = cancel, make(chan struct{})
		go m.sweep(ctx, sw)
	}
	return m
}

// Close stops the sweeping goroutine, if any. It does not close the
// adapter, and the Manager keeps serving requests. It may be called more
// than once and always returns nil.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		if m.stopSweep != nil {
			m.stopSweep()
			<-m.swept
		}
	})
	return nil
}

func (m *Manager) sweep(ctx context.Context, sw cache.Sweeper) {
	defer close(m.swept)
	t := time.NewTicker(m.o.sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := sw.DeleteExpired(ctx)
			if err != nil && ctx.Err() == nil {
				m.log().Error("session: sweeping expired entries", "err", err)
			} else if n > 0 {
				m.log().Debug("session: swept expired entries", "deleted", n)
			}
		}
	}
}

func (m *Manager) log() *slog.Logger {
	if m.o.logger != nil {
		return m.o.logger
	}
	return slog.Default()
}

// fail answers a request whose session could not be loaded or saved.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	if m.o.errorHandler != nil {
		m.o.errorHandler(w, r, err)
		return
	}
	m.log().ErrorContext(r.Context(), "session: store failed", "err", err, "method", r.Method, "path", r.URL.Path)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// storeKey returns the key an id's data is stored under.
func (m *Manager) storeKey(id string) string {
	if !m.o.hashIDs {
		return m.o.prefix + id
	}
	var buf [64]byte
	sum := sha256.Sum256(append(buf[:0], id...))
	k := make([]byte, 0, len(m.o.prefix)+b64.EncodedLen(len(sum)))
	k = append(k, m.o.prefix...)
	return string(b64.AppendEncode(k, sum[:]))
}

// Middleware loads the session of each request before next runs, puts it
// in the request's context (see FromContext), and saves it and sets its
// cookie just before the response's first byte; changes made after that are
// saved when next returns. A store error goes to the error handler instead
// of next (or, after the response has started, to the log).
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := m.load(r)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, s))
		rw := &responseWriter{ResponseWriter: w, m: m, r: r, s: s}
		next.ServeHTTP(rw, r)
		rw.finish()
	})
}

// load returns the request's session: the stored one its cookie names, or
// a new empty one.
func (m *Manager) load(r *http.Request) (*Session, error) {
	s := &Session{m: m, permanent: m.o.permanent, isNew: true}
	v, ok := cookieValue(r, m.o.cookieName)
	if !ok {
		return s, nil
	}
	id, resign, ok := m.parseCookie(v)
	if !ok {
		return s, nil
	}
	key := m.storeKey(id)
	var rec record
	var derr error
	var sum uint64
	err := cache.View(r.Context(), m.a, key, func(b []byte) error {
		rec, derr = m.format.decode(b)
		sum = maphash.Bytes(m.seed, b)
		return nil
	})
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("session: loading: %w", err)
	case derr != nil:
		m.log().WarnContext(r.Context(), "session: starting a new session in place of a damaged record", "err", derr)
		return s, nil
	case rec.Created != 0 && time.Since(time.UnixMilli(rec.Created)) >= m.o.lifetime:
		return s, nil // expired, though the backend still had it
	}
	s.id, s.key, s.raws, s.created, s.permanent = id, key, rec.Values, rec.Created, rec.Permanent
	s.isNew, s.resign, s.sum = false, resign, sum
	return s, nil
}

// sessionFor returns the session that m's middleware put in ctx.
func (m *Manager) sessionFor(ctx context.Context) (*Session, error) {
	s := FromContext(ctx)
	if s == nil || s.m != m {
		return nil, ErrNoSession
	}
	return s, nil
}

// Regenerate gives the session of ctx a new id and keeps its data: when the
// response starts, the data is stored under the new id, the old entry is
// deleted and the new cookie is sent. Call it when the user logs in or
// changes privileges, so an id planted or seen before (session fixation)
// is worthless afterwards; if the old entry cannot be deleted, the save
// fails and goes to the error handler. Regenerate returns
// ErrResponseStarted once the response has started, and ErrNoSession
// outside the Middleware. The session keeps its creation time, so
// Regenerate does not extend its lifetime.
func (m *Manager) Regenerate(ctx context.Context) error {
	s, err := m.sessionFor(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	if s.started {
		return ErrResponseStarted
	}
	s.id = newID(m.o.idBytes)
	s.moved = s.key != ""
	s.modified = true
	return nil
}

// Destroy ends the session of ctx: its entry is deleted from the store now,
// the session is emptied, and the response expires the cookie. Values Set
// afterwards in the same request start a new session with a new id. After
// the response has started the entry is still deleted, but the cookie stays
// with the client, pointing at nothing.
func (m *Manager) Destroy(ctx context.Context) error {
	s, err := m.sessionFor(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	if s.key != "" {
		// Under the lock, so a concurrent request's save cannot write
		// the session back after it is gone.
		unlock, err := m.lock(ctx, s.key)
		if err != nil {
			return err
		}
		_, err = m.a.Delete(ctx, s.key)
		unlock()
		if err != nil {
			return fmt.Errorf("session: destroying: %w", err)
		}
	}
	s.id, s.key, s.moved, s.created, s.permanent = "", "", false, 0, m.o.permanent
	s.raws, s.vals, s.changes, s.cleared, s.permChanged = nil, nil, nil, false, false
	s.isNew, s.destroyed, s.resign, s.modified = true, true, false, true
	return nil
}
