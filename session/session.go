package session

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/cachelib-go/cachelib/cache"
)

type ctxKey struct{}

// FromContext returns the session of the request whose context ctx is, or
// nil outside Manager.Middleware. With two managers nested, it returns the
// inner one's session.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// Session is the data of one client's session during one request. Get it
// with FromContext. Its methods are safe for concurrent use, but it belongs
// to its request: changes made after the handler has returned are lost.
//
// Values are stored with the manager's codec when the response starts (and
// again at the end of the request if they changed after that). Only
// changes made through Set, Delete, Pop and Clear are seen: after changing a
// map or struct that Get returned, Set it again.
type Session struct {
	m  *Manager
	mu sync.Mutex

	// id is the session's id; for a new session it is drawn when first
	// needed, so requests that never use their session draw none.
	id string
	// key is the store key the data lives under, "" when not stored.
	key string
	// moved is set by Regenerate: the data moves from key to the key of
	// id at the next save.
	moved     bool
	created   int64
	permanent bool
	// sum is the hash of the stored bytes as this request last read or
	// wrote them. A save that finds the same hash under the lock knows
	// nobody else saved meanwhile and merges into what it has, without
	// decoding the record again. The hash is keyed with a random seed, so
	// two different records collide with probability 2^-64, and nobody can
	// make them collide on purpose.
	sum uint64

	// raws holds the values as stored, for keys not Set in this request.
	raws map[string]raw
	// vals holds decoded values of raws (a cache) and values Set in this
	// request.
	vals map[string]any
	// changes records, since the last save, which keys were Set (true)
	// or deleted (false); with cleared, it is exactly what a save merges
	// into the stored record. A key is present iff it is in raws or
	// changes[key] is true.
	changes     map[string]bool
	cleared     bool
	permChanged bool

	modified  bool // changed during this request
	accessed  bool // used during this request: the response varies by cookie
	isNew     bool
	destroyed bool
	resign    bool // the cookie was signed with a previous key
	started   bool // the response has started: cookies can no longer be set
}

func (s *Session) touch() { s.accessed = true }

func (s *Session) has(key string) bool {
	_, stored := s.raws[key]
	return stored || s.changes[key]
}

func (s *Session) set(key string, v any) {
	if s.vals == nil {
		s.vals = make(map[string]any)
	}
	if s.changes == nil {
		s.changes = make(map[string]bool)
	}
	s.vals[key] = v
	delete(s.raws, key)
	s.changes[key] = true
	s.modified = true
}

// get returns the value under key, decoding a stored one into an interface
// (and keeping the result).
func (s *Session) get(key string) (any, bool) {
	if v, ok := s.vals[key]; ok {
		return v, true
	}
	r, ok := s.raws[key]
	if !ok {
		return nil, false
	}
	var v any
	if len(r) > 0 {
		if err := s.m.o.codec.Unmarshal(r, &v); err != nil {
			s.m.log().Warn("session: a stored value does not decode; treating it as absent", "key", key, "err", err)
			return nil, false
		}
	}
	if s.vals == nil {
		s.vals = make(map[string]any)
	}
	s.vals[key] = v
	return v, true
}

func (s *Session) delete(key string) {
	if !s.has(key) {
		return
	}
	if s.changes == nil {
		s.changes = make(map[string]bool)
	}
	delete(s.raws, key)
	delete(s.vals, key)
	s.changes[key] = false
	s.modified = true
}

func (s *Session) len() int {
	n := len(s.raws)
	for _, set := range s.changes {
		if set {
			n++
		}
	}
	return n
}

// Get returns the value stored under key and whether there is one. A value
// Set in this request comes back as it was given; a value loaded from the
// store comes back as the codec decodes into an interface (map[string]any
// for structs and maps; numbers as the codec gives them). Use GetAs for a
// value of a given type.
func (s *Session) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	return s.get(key)
}

// GetAs returns the value stored under key as a T, whatever codec and
// backend the manager uses: a value loaded from the store is decoded
// straight into T, and a value Set in this request as another type is
// converted through the codec (so a struct Set as a value can be read as a
// pointer, or an int as an int64). The bool reports whether key has a
// value; the error, a *cache.DecodeError, reports a value that does not fit
// in T.
func GetAs[T any](s *Session, key string) (T, bool, error) {
	var t T
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	v, cached := s.vals[key]
	if cached {
		if t, ok := v.(T); ok {
			return t, true, nil
		}
	}
	r, stored := s.raws[key]
	if !stored {
		if !cached {
			return t, false, nil
		}
		b, err := s.m.o.codec.Marshal(v)
		if err != nil {
			return t, true, &cache.DecodeError{Key: key, Err: fmt.Errorf("re-encoding a %T: %w", v, err)}
		}
		r = b
	}
	if len(r) > 0 {
		if err := s.m.o.codec.Unmarshal(r, &t); err != nil {
			var zero T
			return zero, true, &cache.DecodeError{Key: key, Err: err}
		}
	}
	return t, true, nil
}

// Set stores v under key. It is encoded with the manager's codec when the
// session is saved; an encoding error then goes to the error handler.
func (s *Session) Set(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	s.set(key, v)
}

// Delete removes key. Deleting a key that has no value changes nothing.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	s.delete(key)
}

// Pop removes key and returns the value it had, as Get would have.
func (s *Session) Pop(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	v, ok := s.get(key)
	s.delete(key)
	return v, ok
}

// Has reports whether key has a value.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	return s.has(key)
}

// Keys returns the keys that have a value, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	keys := make([]string, 0, s.len())
	for k := range s.raws {
		keys = append(keys, k)
	}
	for k, set := range s.changes {
		if set {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Len returns the number of keys that have a value.
func (s *Session) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	return s.len()
}

// Clear removes every key. A stored session left empty at the end of the
// request is deleted from the store and its cookie expired. Permanent is
// kept, as in Flask.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	if s.len() == 0 {
		return
	}
	s.raws, s.vals, s.changes = nil, nil, nil
	s.cleared = true
	s.modified = true
}

// ID returns the session's id, the secret that the cookie carries (not
// signed). A new session gets its id when first needed, and a new one after
// Manager.Regenerate. Treat it like a password: do not log it.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	return s.ensureID()
}

func (s *Session) ensureID() string {
	if s.id == "" {
		s.id = newID(s.m.o.idBytes)
	}
	return s.id
}

// IsNew reports whether the session did not come from the store: the
// request had no valid cookie, its id was unknown or expired, or the session
// was destroyed in this request.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	return s.isNew
}

// Modified reports whether this request changed the session: Set, Delete,
// Pop or Clear of a value, SetPermanent with a new value, Regenerate or
// Destroy.
func (s *Session) Modified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	return s.modified
}

// Permanent reports whether the session's cookie carries an expiry (see
// WithPermanent).
func (s *Session) Permanent() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	return s.permanent
}

// SetPermanent sets whether the session's cookie carries an expiry, e.g. for
// a "remember me" box. An empty session stays unstored either way.
func (s *Session) SetPermanent(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch()
	if s.permanent != on {
		s.permanent = on
		s.permChanged = true
		s.modified = true
	}
}
