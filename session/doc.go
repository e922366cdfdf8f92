// Package session keeps server-side HTTP sessions in any cache.Adapter, the
// way Flask-Session keeps Flask's sessions in any cachelib cache: the
// browser holds only a random id in a cookie, and the data lives in the
// backend under a key derived from that id.
//
//	m := session.NewManager(adapter)
//	defer m.Close()
//	http.ListenAndServe(addr, m.Middleware(mux))
//
//	// in a handler:
//	s := session.FromContext(r.Context())
//	s.Set("user_id", 42)
//	id, ok, err := session.GetAs[int](s, "user_id")
//
// The defaults are Flask-Session's: cookie "session", keys "session:" + id,
// ids of 32 random bytes, permanent sessions, a lifetime of 31 days, the
// cookie refreshed on every response, HttpOnly, Path "/". Each option
// documents its default.
//
// # Security defaults
//
// Ids are 32 bytes from crypto/rand (256 bits), base64url-encoded (43
// characters). A client-chosen id is never adopted: a request without a
// cookie, or whose cookie is malformed, badly signed, unknown to the store
// or expired, gets a new, empty session with a fresh id. Malformed cookies
// (wrong length, characters outside base64url, a bad signature) are
// rejected before the store is asked, so a client cannot make the server
// look up keys of its choosing.
//
// The store key holds the SHA-256 of the id, not the id (WithIDHashing), so
// read access to the backend, a backup or a key listing does not let anyone
// take over sessions. The cookie is HttpOnly and SameSite=Lax (Flask leaves
// SameSite unset); set Secure in production (WithCookieSecure).
//
// Cookies can also be signed (WithSigningKeys): HMAC-SHA256, compared in
// constant time, with key rotation (the current key signs, previous keys
// still verify, and a cookie verified with a previous key is re-signed).
//
// Call Manager.Regenerate when a user logs in: the data moves to a new id
// and the old entry is deleted, which defeats session fixation. Call
// Manager.Destroy to log out: the entry is deleted at once and the cookie
// expired.
//
// # Expiry
//
// A session ends when its lifetime (WithLifetime, default 31 days, counted
// from when it was first stored) runs out, however active it is, or after
// an idle timeout without requests (WithIdleTimeout, default none). The
// stored entry's TTL is what is left of both, so the backend drops it on
// time; a permanent session's cookie expires at the same moment, and a
// session that is not permanent has a cookie without Expires, which lasts
// until the browser closes. Backends that do not drop expired entries by
// themselves implement cache.Sweeper; the manager sweeps them on an interval
// (WithSweepInterval) until Close.
//
// # When the store is written
//
// An empty session is never stored and gets no cookie, so bots and
// health checks do not fill the store. A session is stored when a request
// changes it; emptying a stored session deletes its entry and expires the
// cookie. With refresh each request (the default), every response of a
// stored session re-sends its cookie, and the entry is rewritten only when
// its expiry moves (with an idle timeout, or for a Flask record); otherwise
// a request that only reads its session writes nothing. Every response
// whose session was used carries "Vary: Cookie", so shared caches do not
// serve one user's page to another.
//
// The session is saved just before the first byte of the response, so the
// cookie can go out with the headers and the entry exists before the browser
// can send the cookie back. Changes made after that (while streaming, say)
// are saved when the handler returns; they cannot change the cookie, so a
// new session filled only after the response started is not stored, and
// Regenerate then returns ErrResponseStarted. The wrapped ResponseWriter
// keeps http.Flusher and http.ResponseController working (it implements
// Unwrap).
//
// A store error while loading or saving goes to the error handler
// (WithErrorHandler; by default it is logged and the client gets a plain
// 500) instead of the response, never to a panic. Saves run on a context
// that outlives a client's disconnect, bounded by WithStoreTimeout.
//
// # Concurrent requests
//
// With most session libraries, two requests of one session that run at the
// same time (two tabs, parallel XHRs) each save the whole session, and the
// last writer silently undoes the other's changes. This package saves a
// request's changes, not its copy: each session remembers which keys it
// Set or deleted (and whether it was cleared or its permanence changed), and
// a save takes a short lock on the session (an entry created with the
// adapter's atomic Add, expiring after the store timeout), re-reads the
// stored record, applies just those changes to it, writes it back and
// releases the lock. Two requests that change different keys both keep
// their changes; for the same key the later save wins. A session destroyed
// or emptied by another request meanwhile is not brought back. The lock
// costs one Add and one Delete per save, only for requests that write.
//
// Values are kept in the record as the codec encoded them, one by one, and
// decoded only when read, so reading one key of a large session decodes one
// value, and a merge writes other requests' values back byte for byte.
//
// # Storage format
//
// The stored value is the codec's encoding (CBOR by default, see WithCodec)
// of a map with three keys: "values", a map from session key to value;
// "created", when the session was first stored, in Unix milliseconds; and
// "permanent".
// With cache.JSONCodec that is plain JSON that other programs can read.
//
// # Flask-Session interoperability
//
// FlaskCompatible makes a Go service share sessions with a Flask application
// that uses Flask-Session on the same backend (typically Redis): Flask's
// cookie name and key prefix, unhashed ids, the value a MessagePack map of
// the session dict including "_permanent", and, when a secret key is given,
// the cookie signed exactly as Flask-Session's SESSION_USE_SIGNER does
// (itsdangerous Signer, HMAC-SHA1, salt "flask-session", key derivation
// "hmac"). A user who logs in on one side is logged in on the other, and
// each side reads the values the other wrote.
package session
