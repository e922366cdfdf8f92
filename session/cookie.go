package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net/http"
	"strings"
	"time"
)

var b64 = base64.RawURLEncoding

// newID returns n random bytes from crypto/rand, base64url-encoded without
// padding, as Python's secrets.token_urlsafe(n) does.
func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand crashes the program instead
	return b64.EncodeToString(b)
}

// isB64 reports whether s uses only the base64url alphabet.
func isB64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// signer signs session ids the way itsdangerous's Signer does with
// key_derivation="hmac": each secret is first turned into a key with
// HMAC(secret, salt), then a cookie is id + "." + base64url(HMAC(key, id))
// without padding. The first key signs; every key verifies.
type signer struct {
	hash   func() hash.Hash
	keys   [][]byte
	sigLen int // length of the encoded signature
}

// Salts keep a signature made for one purpose from being accepted for
// another. flaskSalt is the one Flask-Session uses.
const (
	nativeSalt = "cachelib-go/session: id"
	flaskSalt  = "flask-session"
)

func newSigner(h func() hash.Hash, salt string, secrets [][]byte) *signer {
	s := &signer{hash: h, sigLen: b64.EncodedLen(h().Size())}
	for _, secret := range secrets {
		mac := hmac.New(h, secret)
		mac.Write([]byte(salt))
		s.keys = append(s.keys, mac.Sum(nil))
	}
	return s
}

func nativeSigner(current []byte, previous [][]byte) *signer {
	return newSigner(sha256.New, nativeSalt, append([][]byte{current}, previous...))
}

func flaskSigner(secret string) *signer {
	return newSigner(sha1.New, flaskSalt, [][]byte{[]byte(secret)})
}

// appendSig appends the encoded signature of id under key.
func (s *signer) appendSig(dst []byte, key []byte, id string) []byte {
	mac := hmac.New(s.hash, key)
	mac.Write([]byte(id))
	var sum [sha256.Size]byte
	return b64.AppendEncode(dst, mac.Sum(sum[:0]))
}

func (s *signer) sign(id string) string {
	b := make([]byte, 0, len(id)+1+s.sigLen)
	b = append(b, id...)
	b = append(b, '.')
	return string(s.appendSig(b, s.keys[0], id))
}

// verify reports whether sig is the signature of id under one of the keys,
// and whether that key is an older one (the cookie should be re-signed).
// Every key is tried, in constant time for each.
func (s *signer) verify(id, sig string) (ok, old bool) {
	var buf [64]byte
	for i, key := range s.keys {
		if equal(s.appendSig(buf[:0], key, id), sig) {
			return true, i > 0
		}
	}
	return false, false
}

// equal compares in time that depends only on the lengths, like
// subtle.ConstantTimeCompare, without converting sig to a []byte.
func equal(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	var diff byte
	for i := range b {
		diff |= b[i] ^ s[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// parseCookie returns the session id in a cookie value, or ok false when
// the value is not one this manager could have issued: wrong length,
// characters outside the base64url alphabet, or a missing or bad
// signature. Nothing reaches the store before this check passes. resign
// reports a signature made with a previous key.
func (m *Manager) parseCookie(v string) (id string, resign, ok bool) {
	idLen := b64.EncodedLen(m.o.idBytes)
	if m.signer == nil {
		if len(v) != idLen || !isB64(v) {
			return "", false, false
		}
		return v, false, true
	}
	if len(v) != idLen+1+m.signer.sigLen || v[idLen] != '.' {
		return "", false, false
	}
	id, sig := v[:idLen], v[idLen+1:]
	if !isB64(id) || !isB64(sig) {
		return "", false, false
	}
	ok, resign = m.signer.verify(id, sig)
	if !ok {
		return "", false, false
	}
	return id, resign, true
}

// cookieValue returns the value of the request's first cookie called name,
// without parsing the other cookies into http.Cookie values.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			k, v, found := strings.Cut(part, "=")
			if found && k == name {
				return v, true
			}
		}
	}
	return "", false
}

// cookie returns the session cookie to send. A permanent session's cookie
// lasts ttl from now, rounded up to whole seconds (the unit of Max-Age and
// Expires); otherwise it has neither and lasts until the browser closes.
func (m *Manager) cookie(value string, permanent bool, now time.Time, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:        m.o.cookieName,
		Value:       value,
		Path:        m.o.path,
		Domain:      m.o.domain,
		Secure:      m.o.secure,
		HttpOnly:    m.o.httpOnly,
		SameSite:    m.o.sameSite,
		Partitioned: m.o.partitioned,
	}
	if permanent {
		secs := (ttl + time.Second - 1) / time.Second
		c.MaxAge = int(secs)
		c.Expires = now.Add(secs * time.Second)
	}
	return c
}

// expiredCookie tells the browser to drop the session cookie.
func (m *Manager) expiredCookie() *http.Cookie {
	c := m.cookie("", false, time.Time{}, 0)
	c.Expires = time.Unix(0, 0)
	c.MaxAge = -1
	return c
}
