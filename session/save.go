package session

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// What a save asks of the response's cookie.
type outcome int

const (
	keepCookie   outcome = iota // nothing to send
	setCookie                   // send the session's cookie, with its expiry
	expireCookie                // the session is no longer stored
)

// lockSuffix makes a session's lock key. Ids and their hashes are base64url,
// which has no '.', so a lock key never names a session.
const lockSuffix = ".lock"

var lockValue = []byte{'1'}

// storeContext is the context of a save: it outlives the client's
// disconnect, so work the handler did is kept, and is bounded by the store
// timeout.
func (m *Manager) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), m.o.storeTimeout)
}

// lock takes the session's lock: an entry next to the session's, created
// with Add, which exactly one caller wins. It expires after the store
// timeout, so a holder that dies blocks others for that long at most.
func (m *Manager) lock(ctx context.Context, key string) (unlock func(), err error) {
	lk := key + lockSuffix
	wait := time.Millisecond
	for {
		ok, err := m.a.Add(ctx, lk, lockValue, m.o.storeTimeout)
		if err != nil {
			return nil, fmt.Errorf("session: taking the session's lock: %w", err)
		}
		if ok {
			return func() {
				if _, err := m.a.Delete(ctx, lk); err != nil {
					m.log().WarnContext(ctx, "session: releasing the session's lock; it expires by itself", "err", err)
				}
			}, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("session: waiting for a concurrent request to save the session: %w", context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// ttl returns how long a session created at created (Unix milliseconds; 0
// for unknown, which makes the lifetime count from now) may still live. It
// is not positive for a session whose time is up.
func (m *Manager) ttl(created int64, now time.Time) time.Duration {
	d := m.o.lifetime
	if created != 0 {
		d = time.UnixMilli(created).Add(m.o.lifetime).Sub(now)
	}
	if m.o.idle > 0 {
		d = min(d, m.o.idle)
	}
	return d
}

// write stores rec under key and returns the hash of the stored bytes.
func (m *Manager) write(ctx context.Context, key string, rec *record, ttl time.Duration) (sum uint64, err error) {
	b, err := m.format.encode(rec)
	if err != nil {
		return 0, fmt.Errorf("session: encoding the session: %w", err)
	}
	if err := m.a.Set(ctx, key, b, ttl); err != nil {
		return 0, fmt.Errorf("session: saving: %w", err)
	}
	return maphash.Bytes(m.seed, b), nil
}

// encodeChanges encodes the values Set since the last save.
func (s *Session) encodeChanges() (map[string]raw, error) {
	enc := make(map[string]raw, len(s.changes))
	for k, set := range s.changes {
		if !set {
			continue
		}
		b, err := s.m.o.codec.Marshal(s.vals[k])
		if err != nil {
			return nil, fmt.Errorf("session: encoding the value of %q (%T): %w", k, s.vals[k], err)
		}
		enc[k] = b
	}
	return enc, nil
}

// merge applies the changes since the last save to cur, the record as
// stored now, and returns the result. Keys other requests set or deleted
// meanwhile keep their new state; only the keys this request touched take
// this request's state.
func (s *Session) merge(cur record, enc map[string]raw) record {
	if s.cleared || cur.Values == nil {
		cur.Values = make(map[string]raw, len(enc))
	}
	for k, set := range s.changes {
		if set {
			cur.Values[k] = enc[k]
		} else {
			delete(cur.Values, k)
		}
	}
	if s.permChanged {
		cur.Permanent = s.permanent
	}
	return cur
}

// saved records that rec is now stored under key, as bytes hashing to sum.
func (s *Session) saved(key string, rec record, sum uint64) {
	s.key, s.moved, s.sum = key, false, sum
	s.raws, s.created, s.permanent = rec.Values, rec.Created, rec.Permanent
	for k := range s.vals {
		if !s.changes[k] {
			delete(s.vals, k) // may be stale if another request changed it
		}
	}
	s.changes, s.cleared, s.permChanged = nil, false, false
}

// unstored records that the session is no longer in the store: it is empty,
// and a value Set later starts a new session with a new id.
func (s *Session) unstored() {
	s.id, s.key, s.moved, s.created = "", "", false, 0
	s.raws, s.vals, s.changes, s.cleared, s.permChanged = nil, nil, nil, false, false
}

func (s *Session) dirty() bool {
	return s.moved || s.cleared || s.permChanged || len(s.changes) > 0
}

// save brings the store up to date with s as of now and says what the
// cookie should become; ttl is what is left of the session's life. open
// reports whether the response has not started, so a cookie can still be
// sent. s.mu must be held.
func (m *Manager) save(ctx context.Context, s *Session, open bool, now time.Time) (out outcome, ttl time.Duration, err error) {
	if s.key == "" {
		return m.saveNew(ctx, s, open, now)
	}
	if !s.dirty() {
		// Nothing changed. Refreshing re-sends the cookie, and rewrites
		// the entry only when its expiry moves: an absolute lifetime
		// already runs to the same end.
		slides := m.o.idle > 0 || s.created == 0
		switch {
		case !open:
			return keepCookie, 0, nil
		case m.o.refresh && slides:
			// Rewrite below.
		case m.o.refresh || s.resign:
			return setCookie, m.ttl(s.created, now), nil
		default:
			return keepCookie, 0, nil
		}
	}
	enc, err := s.encodeChanges()
	if err != nil {
		return keepCookie, 0, err
	}
	ctx, cancel := m.storeContext(ctx)
	defer cancel()
	unlock, err := m.lock(ctx, s.key)
	if err != nil {
		return keepCookie, 0, err
	}
	defer unlock()
	// Re-read under the lock: other requests of this session may have
	// saved since this one loaded it.
	var cur record
	var derr error
	err = cache.View(ctx, m.a, s.key, func(b []byte) error {
		if maphash.Bytes(m.seed, b) == s.sum {
			// As this request last saw it: what it holds, minus its
			// changes, is the stored record. Copied, so a failed
			// write leaves s as it was.
			cur = record{Values: maps.Clone(s.raws), Created: s.created, Permanent: s.permanent}
			return nil
		}
		cur, derr = m.format.decode(b)
		return nil
	})
	switch {
	case errors.Is(err, cache.ErrNotFound):
		// Destroyed, emptied or expired meanwhile: writing now would bring
		// it back.
		if s.dirty() {
			m.log().InfoContext(ctx, "session: the session ended during the request; its changes are dropped", "keys", changedKeys(s))
		}
		s.unstored()
		return expireCookie, 0, nil
	case err != nil:
		return keepCookie, 0, fmt.Errorf("session: reading before saving: %w", err)
	case derr != nil:
		m.log().WarnContext(ctx, "session: replacing a damaged record", "err", derr)
		cur = record{Created: s.created, Permanent: s.permanent}
	}
	rec := s.merge(cur, enc)
	ttl = m.ttl(rec.Created, now)
	if len(rec.Values) == 0 || ttl <= 0 {
		if _, err := m.a.Delete(ctx, s.key); err != nil {
			return keepCookie, 0, fmt.Errorf("session: deleting the emptied session: %w", err)
		}
		s.unstored()
		return expireCookie, 0, nil
	}
	key := s.key
	if s.moved {
		key = m.storeKey(s.id)
	}
	sum, err := m.write(ctx, key, &rec, ttl)
	if err != nil {
		return keepCookie, 0, err
	}
	if s.moved {
		// The old id must stop working, or Regenerate would not defeat
		// fixation: failing to delete it fails the save. The copy under
		// the new id, whose cookie is never sent, expires unused.
		if _, err := m.a.Delete(ctx, s.key); err != nil {
			return keepCookie, 0, fmt.Errorf("session: deleting the entry of the replaced id: %w", err)
		}
	}
	s.saved(key, rec, sum)
	return setCookie, ttl, nil
}

// saveNew stores a session that is not in the store yet. Nobody else knows
// its id, so no lock is needed.
func (m *Manager) saveNew(ctx context.Context, s *Session, open bool, now time.Time) (outcome, time.Duration, error) {
	if s.len() == 0 {
		// Never store an empty session: bots would fill the store.
		if s.destroyed && open {
			return expireCookie, 0, nil
		}
		return keepCookie, 0, nil
	}
	if !open {
		m.log().WarnContext(ctx, "session: a new session got values after the response started; they are not stored, since its cookie could not be sent", "keys", changedKeys(s))
		return keepCookie, 0, nil
	}
	enc, err := s.encodeChanges()
	if err != nil {
		return keepCookie, 0, err
	}
	rec := s.merge(record{Created: now.UnixMilli(), Permanent: s.permanent}, enc)
	ttl := m.ttl(0, now) // all of it: the session starts now
	key := m.storeKey(s.ensureID())
	ctx, cancel := m.storeContext(ctx)
	defer cancel()
	sum, err := m.write(ctx, key, &rec, ttl)
	if err != nil {
		return keepCookie, 0, err
	}
	s.saved(key, rec, sum)
	return setCookie, ttl, nil
}

func changedKeys(s *Session) []string {
	keys := make([]string, 0, len(s.changes))
	for k := range s.changes {
		keys = append(keys, k)
	}
	return keys
}

// commit saves s and, while the response has not started (open), sets its
// cookie and Vary header in h. s.mu must be held.
func (m *Manager) commit(ctx context.Context, h http.Header, s *Session, open bool) error {
	now := time.Now()
	out, ttl, err := m.save(ctx, s, open, now)
	if err != nil || !open {
		return err
	}
	switch out {
	case setCookie:
		v := s.id
		if m.signer != nil {
			v = m.signer.sign(v)
		}
		h.Add("Set-Cookie", m.cookie(v, s.permanent, now, ttl).String())
	case expireCookie:
		h.Add("Set-Cookie", m.expiredCookie().String())
	}
	if s.accessed || out != keepCookie {
		addVary(h, "Cookie")
	}
	return nil
}

// addVary adds token to the Vary header unless it is already listed.
func addVary(h http.Header, token string) {
	for _, line := range h.Values("Vary") {
		for v := range strings.SplitSeq(line, ",") {
			if v = strings.TrimSpace(v); v == "*" || strings.EqualFold(v, token) {
				return
			}
		}
	}
	h.Add("Vary", token)
}

// responseWriter saves the session and sets its cookie just before the
// first byte of the response goes out.
type responseWriter struct {
	http.ResponseWriter
	m *Manager
	r *http.Request
	s *Session
	// err is set when the save before the first byte failed: the error
	// handler has answered and the handler's writes are discarded. s.mu
	// guards it.
	err error
}

// start saves the session before the response starts, once, and reports
// whether the handler's response may go out.
func (w *responseWriter) start() error {
	s := w.s
	s.mu.Lock()
	if s.started {
		err := w.err
		s.mu.Unlock()
		return err
	}
	s.started = true
	err := w.m.commit(w.r.Context(), w.Header(), s, true)
	if err != nil {
		w.err = fmt.Errorf("session: response discarded, the session could not be saved: %w", err)
	}
	s.mu.Unlock()
	if err != nil {
		w.m.fail(w.ResponseWriter, w.r, err)
	}
	return w.err
}

// finish runs when the handler has returned: it saves the session if the
// response never started, or else saves the changes made since it started.
func (w *responseWriter) finish() {
	s := w.s
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		_ = w.start() // a failure has gone to the error handler
		return
	}
	var err error
	if w.err == nil {
		err = w.m.commit(w.r.Context(), nil, s, false)
	}
	s.mu.Unlock()
	if err != nil {
		w.m.log().ErrorContext(w.r.Context(), "session: saving changes made after the response started", "err", err, "method", w.r.Method, "path", w.r.URL.Path)
	}
}

// WriteHeader saves the session and sets its cookie, then writes the
// status. Informational (1xx) statuses pass straight through, as they are
// not the response.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.start() == nil {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write saves the session and sets its cookie before the first byte.
func (w *responseWriter) Write(b []byte) (int, error) {
	if err := w.start(); err != nil {
		return 0, err
	}
	return w.ResponseWriter.Write(b)
}

// FlushError saves the session and sets its cookie, then flushes. It is
// what http.ResponseController.Flush calls.
func (w *responseWriter) FlushError() error {
	if err := w.start(); err != nil {
		return err
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
