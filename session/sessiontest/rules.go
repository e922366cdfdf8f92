package sessiontest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/session"
)

var rules = []rule{
	{Name: "SetThenGet", Doc: "a value Set in one request is there in the next", Run: testSetThenGet},
	{Name: "Modify", Doc: "a later Set replaces the value", Run: testModify},
	{Name: "DeleteAndPop", Doc: "Delete and Pop remove one key and keep the others", Run: testDeleteAndPop},
	{Name: "ClearDeletesEntry", Doc: "emptying a stored session deletes its entry and expires the cookie", Run: testClear},
	{Name: "EmptySessionNotStored", Doc: "a session with no values is never stored and gets no cookie", Run: testEmptyNotStored},
	{Name: "UnusedSessionNoVary", Doc: "a response that did not use its session has no Vary: Cookie and no cookie", Run: testUnusedNoVary},
	{Name: "UnknownIDNotAdopted", Doc: "a well-formed id the store does not know gives a new session with a fresh id", Run: testUnknownID},
	{Name: "MalformedCookieNotLookedUp", Doc: "a malformed cookie gives a new session without asking the store", Run: testMalformed},
	{Name: "SignedCookies", Doc: "with signing keys, a tampered cookie is rejected before the store is asked", Run: testSigned},
	{Name: "SigningKeyRotation", Doc: "previous keys verify, and their cookies are re-signed with the current key", Run: testRotation},
	{Name: "IDsHashedInStore", Doc: "the store key holds the SHA-256 of the id by default, the id itself when turned off", Run: testHashedIDs},
	{Name: "CookieAttributes", Doc: "the cookie carries the configured attributes, HttpOnly and SameSite=Lax by default", Run: testCookieAttributes},
	{Name: "Regenerate", Doc: "Regenerate moves the data to a new id and deletes the old entry", Run: testRegenerate},
	{Name: "Destroy", Doc: "Destroy deletes the entry and expires the cookie; values Set after it start a new session", Run: testDestroy},
	{Name: "PermanentCookie", Doc: "a permanent session's cookie expires with the lifetime", Run: testPermanentCookie},
	{Name: "NonPermanentCookie", Doc: "a session that is not permanent has a cookie without Expires", Run: testNonPermanentCookie},
	{Name: "LifetimeIsAbsolute", Doc: "a session ends when its lifetime runs out, however active", Run: testLifetime},
	{Name: "IdleTimeout", Doc: "a session ends after the idle timeout without requests, and requests push it back", Run: testIdleTimeout},
	{Name: "RefreshOffNoWrites", Doc: "with refresh each request off, a request that only reads writes nothing and sends no cookie", Run: testRefreshOff},
	{Name: "RefreshResendsCookie", Doc: "with refresh each request on, a read-only request re-sends the cookie without writing the store", Run: testRefreshOn},
	{Name: "RefreshWithIdleTimeoutRewrites", Doc: "with an idle timeout, refreshing rewrites the entry to push its expiry back", Run: testRefreshIdle},
	{Name: "TypedRoundTrip", Doc: "a struct Set in one request comes back equal through GetAs, with each codec", Run: testTyped},
	{Name: "StoreDownOnLoad", Doc: "a store error while loading goes to the error handler (500, logged), not to the handler", Run: testStoreDownLoad},
	{Name: "StoreDownOnSave", Doc: "a store error while saving goes to the error handler and the handler's response is discarded", Run: testStoreDownSave},
	{Name: "UnencodableValue", Doc: "a value the codec cannot encode is a save error, not a panic", Run: testUnencodable},
	{Name: "ConcurrentRequestsMerge", Doc: "concurrent requests of one session that change different keys all keep their changes", Run: testConcurrent},
	{Name: "ChangesAfterResponseStarted", Doc: "changes made after the first byte are stored at the end of the request", Run: testLate},
	{Name: "CookieBeforeFirstByte", Doc: "the cookie goes out with the headers, also when the handler flushes", Run: testFlush},
	{Name: "ResponseControllerUnwraps", Doc: "http.ResponseController reaches the server's writer through the session writer", Run: testResponseController},
	{Name: "VaryCookieOnce", Doc: "Vary: Cookie is added once, and not when the handler already varies by cookie", Run: testVary},
	{Name: "Sweeps", Doc: "an adapter that is a cache.Sweeper is swept on the interval until Close", Run: testSweeps},
}

func testSetThenGet(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	res := e.must("/set?k=a&v=1&k=b&v=two")
	if res.cookie == nil || res.cookie.Value == "" {
		t.Fatalf("a session with values got no cookie; headers %v", res.header)
	}
	if got := e.must("/get?k=a").body; got != "1" {
		t.Fatalf("a = %q, want 1", got)
	}
	if got := e.must("/get?k=b").body; got != "two" {
		t.Fatalf("b = %q, want two", got)
	}
	if got := e.must("/isnew").body; got != "false" {
		t.Fatalf("IsNew of a stored session = %s", got)
	}
	if got := e.must("/len").body; got != "2" {
		t.Fatalf("Len = %s, want 2", got)
	}
}

func testModify(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	e.must("/set?k=a&v=1")
	e.must("/set?k=a&v=2")
	if got := e.must("/get?k=a").body; got != "2" {
		t.Fatalf("a = %q after setting it to 2", got)
	}
}

func testDeleteAndPop(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	e.must("/set?k=a&v=1&k=b&v=2&k=c&v=3")
	e.must("/delete?k=a")
	if got := e.must("/keys").body; got != "b,c" {
		t.Fatalf("keys after deleting a = %q, want b,c", got)
	}
	if got := e.must("/pop?k=b").body; got != "2 true" {
		t.Fatalf("Pop(b) = %q, want 2 true", got)
	}
	if got := e.must("/pop?k=b").body; got != "<nil> false" {
		t.Fatalf("second Pop(b) = %q, want <nil> false", got)
	}
	if got := e.must("/keys").body; got != "c" {
		t.Fatalf("keys = %q, want c", got)
	}
}

func testClear(t *testing.T, h *harness) {
	for _, how := range []string{"/clear", "/delete?k=a"} {
		t.Run(strings.TrimPrefix(how, "/"), func(t *testing.T) {
			e := h.newEnv(t, nil)
			e.must("/set?k=a&v=1")
			key := e.rec.lastKey(t)
			old := e.jarCookie()
			res := e.must(how)
			if res.cookie == nil || res.cookie.MaxAge >= 0 {
				t.Fatalf("emptying the session did not expire its cookie: %v", res.header["Set-Cookie"])
			}
			if e.rec.has(t, key) {
				t.Fatal("the emptied session is still in the store")
			}
			if got := e.getWith(old, "/isnew").body; got != "true" {
				t.Fatalf("the old cookie still finds a session (IsNew = %s)", got)
			}
		})
	}
}

func testEmptyNotStored(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	res := e.must("/get?k=a")
	if res.cookie != nil {
		t.Fatalf("an empty session got a cookie: %v", res.header["Set-Cookie"])
	}
	if gets, writes := e.rec.counts(); gets != 0 || writes != 0 {
		t.Fatalf("a request without a cookie made %d reads and %d writes, want none", gets, writes)
	}
	if !varies(res.header) {
		t.Fatalf("a response that read its session lacks Vary: Cookie: %v", res.header)
	}
	e2 := h.newEnv(t, nil)
	e2.must("/keys")
	if res := e2.must("/clear"); res.cookie != nil {
		t.Fatalf("clearing a new session sent a cookie: %v", res.header["Set-Cookie"])
	}
	if _, writes := e2.rec.counts(); writes != 0 {
		t.Fatalf("clearing a new session made %d writes", writes)
	}
}

func testUnusedNoVary(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	res := e.must("/plain")
	if res.cookie != nil || varies(res.header) {
		t.Fatalf("a response that did not use its session has cookie %v and Vary %v", res.cookie, res.header["Vary"])
	}
}

func testUnknownID(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	planted := strings.Repeat("A", 43)
	res := e.getWith(planted, "/set?k=a&v=1")
	if res.cookie == nil {
		t.Fatal("no cookie for the new session")
	}
	if res.cookie.Value == planted {
		t.Fatal("the server adopted the id the client chose")
	}
	if key := e.rec.lastKey(t); strings.Contains(key, planted) {
		t.Fatalf("stored under %q, the client's id", key)
	}
	if got := e.getWith(res.cookie.Value, "/get?k=a").body; got != "1" {
		t.Fatalf("the issued id does not find the data: %q", got)
	}
}

func testMalformed(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	e.must("/set?k=a&v=1")
	good := e.jarCookie()
	for _, bad := range []string{
		"short",
		good + "A",
		good[:42],
		good[:42] + "!",
		"../../../../etc/passwd" + strings.Repeat("x", 21),
		good + ".c2lnbmF0dXJl",
		strings.Repeat("%", 43),
	} {
		gets, _ := e.rec.counts()
		res := e.getWith(bad, "/get?k=a")
		if res.body != "<none>" || res.cookie != nil {
			t.Errorf("cookie %q: got %q and cookie %v, want a new empty session", bad, res.body, res.cookie)
		}
		if after, _ := e.rec.counts(); after != gets {
			t.Errorf("cookie %q was looked up in the store", bad)
		}
	}
}

func testSigned(t *testing.T, h *harness) {
	e := h.newEnv(t, nil, session.WithSigningKeys([]byte("current key, 32 bytes or longer!")))
	e.must("/set?k=a&v=1")
	signed := e.jarCookie()
	id, sig, ok := strings.Cut(signed, ".")
	if !ok {
		t.Fatalf("signed cookie %q has no signature", signed)
	}
	if got := e.getWith(signed, "/get?k=a").body; got != "1" {
		t.Fatalf("the signed cookie does not find the data: %q", got)
	}
	for _, bad := range []string{id, flip(id) + "." + sig, id + "." + flip(sig), id + "." + sig[:len(sig)-1], id + "." + sig + "A"} {
		gets, _ := e.rec.counts()
		if got := e.getWith(bad, "/get?k=a").body; got != "<none>" {
			t.Errorf("tampered cookie %q found the session: %q", bad, got)
		}
		if after, _ := e.rec.counts(); after != gets {
			t.Errorf("tampered cookie %q was looked up in the store", bad)
		}
	}
}

// flip changes the last character of a base64url string to another valid one.
func flip(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}

func testRotation(t *testing.T, h *harness) {
	k1, k2 := []byte("the old signing key, now retired"), []byte("the new signing key, signs today")
	e := h.newEnv(t, nil, session.WithSigningKeys(k1), session.WithRefreshEachRequest(false))
	e.must("/set?k=a&v=1")
	old := e.jarCookie()
	e.use(session.WithSigningKeys(k2, k1), session.WithRefreshEachRequest(false))
	res := e.getWith(old, "/get?k=a")
	if res.body != "1" {
		t.Fatalf("a cookie signed with a previous key was rejected: %q", res.body)
	}
	if res.cookie == nil || res.cookie.Value == old {
		t.Fatalf("a cookie signed with a previous key was not re-signed: %v", res.header["Set-Cookie"])
	}
	e.use(session.WithSigningKeys(k2))
	if got := e.getWith(res.cookie.Value, "/get?k=a").body; got != "1" {
		t.Fatalf("the re-signed cookie does not verify with the current key alone: %q", got)
	}
	if got := e.getWith(old, "/get?k=a").body; got != "<none>" {
		t.Fatalf("a retired key still verifies: %q", got)
	}
}

func testHashedIDs(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	e.must("/set?k=a&v=1")
	sid := e.must("/id").body
	if key := e.rec.lastKey(t); strings.Contains(key, sid) || !strings.HasPrefix(key, session.DefaultKeyPrefix) {
		t.Fatalf("store key %q for id %q: want the prefix and a hash, not the id", key, sid)
	}
	e2 := h.newEnv(t, nil, session.WithIDHashing(false), session.WithKeyPrefix("app1:"))
	e2.must("/set?k=a&v=1")
	sid = e2.must("/id").body
	if key := e2.rec.lastKey(t); key != "app1:"+sid {
		t.Fatalf("store key %q, want app1:%s", key, sid)
	}
	if len(sid) != 43 {
		t.Fatalf("id %q has %d characters, want 43", sid, len(sid))
	}
}

func testCookieAttributes(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	c := e.must("/set?k=a&v=1").cookie
	if !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Domain != "" || c.Partitioned {
		t.Fatalf("default cookie %+v: want HttpOnly, Path=/, SameSite=Lax, no Secure, Domain or Partitioned", c)
	}
	e2 := h.newEnv(t, nil, session.WithCookieSecure(true), session.WithCookiePartitioned(true),
		session.WithCookieDomain("example.test"), session.WithCookiePath("/app"),
		session.WithCookieSameSite(http.SameSiteStrictMode), session.WithCookieHTTPOnly(false))
	c = e2.getWith("", "/set?k=a&v=1").cookie
	if c == nil || c.HttpOnly || c.Path != "/app" || c.SameSite != http.SameSiteStrictMode || !c.Secure || c.Domain != "example.test" || !c.Partitioned {
		t.Fatalf("configured cookie %+v", c)
	}
}

func testRegenerate(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	e.must("/set?k=a&v=1")
	oldKey := e.rec.lastKey(t)
	old := e.jarCookie()
	res := e.must("/regenerate")
	if res.cookie == nil || res.cookie.Value == old {
		t.Fatalf("Regenerate sent no new cookie: %v", res.header["Set-Cookie"])
	}
	if got := e.must("/get?k=a").body; got != "1" {
		t.Fatalf("data after Regenerate = %q, want 1", got)
	}
	if e.rec.has(t, oldKey) {
		t.Fatal("the old entry is still in the store")
	}
	if got := e.getWith(old, "/get?k=a").body; got != "<none>" {
		t.Fatalf("the old id still finds the data: %q", got)
	}
	if newKey := e.rec.lastKey(t); newKey == oldKey || !e.rec.has(t, newKey) {
		t.Fatalf("the data is not under a new key (old %q, new %q)", oldKey, newKey)
	}
}

func testDestroy(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	e.must("/set?k=a&v=1")
	key := e.rec.lastKey(t)
	old := e.jarCookie()
	res := e.must("/destroy")
	if res.cookie == nil || res.cookie.MaxAge >= 0 {
		t.Fatalf("Destroy did not expire the cookie: %v", res.header["Set-Cookie"])
	}
	if e.rec.has(t, key) {
		t.Fatal("the destroyed session is still in the store")
	}
	if got := e.getWith(old, "/get?k=a").body; got != "<none>" {
		t.Fatalf("the destroyed session's cookie still finds data: %q", got)
	}
	// Values Set after Destroy start a new session with a new id.
	e.must("/set?k=a&v=1")
	old = e.jarCookie()
	res = e.must("/destroy?k=b&v=2")
	if res.cookie == nil || res.cookie.MaxAge < 0 || res.cookie.Value == old {
		t.Fatalf("a value Set after Destroy did not start a new session: %v", res.header["Set-Cookie"])
	}
	if got := e.must("/keys").body; got != "b" {
		t.Fatalf("keys of the new session = %q, want b", got)
	}
}

func testPermanentCookie(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	before := time.Now()
	c := e.must("/set?k=a&v=1").cookie
	want := before.Add(session.DefaultLifetime)
	if d := c.Expires.Sub(want); d < -5*time.Second || d > 5*time.Second {
		t.Fatalf("cookie expires %v, want about %v", c.Expires, want)
	}
	if d := time.Duration(c.MaxAge)*time.Second - session.DefaultLifetime; d < -5*time.Second || d > 5*time.Second {
		t.Fatalf("cookie Max-Age %d s, want about %v", c.MaxAge, session.DefaultLifetime)
	}
}

func testNonPermanentCookie(t *testing.T, h *harness) {
	e := h.newEnv(t, nil, session.WithPermanent(false))
	c := e.must("/set?k=a&v=1").cookie
	if !c.Expires.IsZero() || c.MaxAge != 0 {
		t.Fatalf("a session that is not permanent has a cookie with Expires %v, Max-Age %d", c.Expires, c.MaxAge)
	}
	// SetPermanent(true) gives it an expiry, and it stays permanent.
	if c := e.must("/permanent?on=true&k=b&v=2").cookie; c == nil || c.Expires.IsZero() {
		t.Fatalf("SetPermanent(true): cookie %+v has no expiry", c)
	}
	if c := e.must("/get?k=b").cookie; c == nil || c.Expires.IsZero() {
		t.Fatalf("after SetPermanent(true), a refreshed cookie %+v has no expiry", c)
	}
	if c := e.must("/permanent?on=false&k=b&v=3").cookie; c == nil || !c.Expires.IsZero() {
		t.Fatalf("SetPermanent(false): cookie %+v still has an expiry", c)
	}
}

func testLifetime(t *testing.T, h *harness) {
	life := h.short()
	e := h.newEnv(t, nil, session.WithLifetime(life))
	start := time.Now()
	e.must("/set?k=a&v=1")
	key := e.rec.lastKey(t)
	// The cookie is sent by hand: the jar would drop it on its own expiry,
	// and the point is what the server does.
	c := e.jarCookie()
	// Activity does not extend the lifetime.
	for time.Since(start) < life/2 {
		if got := e.getWith(c, "/get?k=a").body; got != "1" && time.Since(start) < life {
			t.Fatalf("the session ended after %v of a %v lifetime", time.Since(start), life)
		}
		time.Sleep(life / 6)
	}
	time.Sleep(time.Until(start.Add(life + h.slack())))
	if got := e.getWith(c, "/get?k=a").body; got != "<none>" {
		t.Fatalf("the session outlived its %v lifetime by %v: %q", life, time.Since(start)-life, got)
	}
	if e.rec.has(t, key) {
		t.Fatal("the backend still holds the entry after the lifetime")
	}
}

func testIdleTimeout(t *testing.T, h *harness) {
	idle := h.short()
	e := h.newEnv(t, nil, session.WithIdleTimeout(idle))
	start := time.Now()
	e.must("/set?k=a&v=1")
	c := e.jarCookie() // sent by hand, as in testLifetime
	// Requests every fifth of the timeout keep it alive past the timeout.
	last := time.Now()
	for time.Since(start) < 2*idle {
		time.Sleep(idle / 5)
		before := time.Now()
		if got := e.getWith(c, "/get?k=a").body; got != "1" {
			t.Fatalf("an active session ended %v after it started (idle timeout %v); gap %v, request took %v", time.Since(start), idle, before.Sub(last), time.Since(before))
		}
		last = time.Now()
	}
	time.Sleep(idle + h.slack())
	if got := e.getWith(c, "/get?k=a").body; got != "<none>" {
		t.Fatalf("the session survived %v idle (timeout %v)", idle+h.slack(), idle)
	}
}

func testRefreshOff(t *testing.T, h *harness) {
	e := h.newEnv(t, nil, session.WithRefreshEachRequest(false))
	e.must("/set?k=a&v=1")
	gets, writes := e.rec.counts()
	res := e.must("/get?k=a")
	if res.body != "1" {
		t.Fatalf("a = %q", res.body)
	}
	if res.cookie != nil {
		t.Fatalf("a read-only request sent a cookie: %v", res.header["Set-Cookie"])
	}
	g, w := e.rec.counts()
	if w != writes {
		t.Fatalf("a read-only request made %d store writes, want 0", w-writes)
	}
	if g != gets+1 {
		t.Fatalf("a read-only request made %d store reads, want 1", g-gets)
	}
}

func testRefreshOn(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	first := e.must("/set?k=a&v=1").cookie
	_, writes := e.rec.counts()
	res := e.must("/get?k=a")
	if res.cookie == nil || res.cookie.Value != first.Value || res.cookie.Expires.IsZero() {
		t.Fatalf("refresh each request did not re-send the cookie: %v", res.header["Set-Cookie"])
	}
	if _, w := e.rec.counts(); w != writes {
		t.Fatalf("refreshing an absolute lifetime made %d store writes, want 0", w-writes)
	}
}

func testRefreshIdle(t *testing.T, h *harness) {
	e := h.newEnv(t, nil, session.WithIdleTimeout(time.Hour))
	e.must("/set?k=a&v=1")
	key := e.rec.lastKey(t)
	_, writes := e.rec.counts()
	e.must("/get?k=a")
	if _, w := e.rec.counts(); w == writes || e.rec.lastKey(t) != key {
		t.Fatal("refreshing with an idle timeout did not rewrite the entry")
	}
}

// Types for the typed round trip.
type address struct {
	City string `json:"city"`
	Zip  string `json:"zip"`
}

type profile struct {
	Name   string         `json:"name"`
	ID     int64          `json:"id"`
	Score  float64        `json:"score"`
	Admin  bool           `json:"admin"`
	Joined time.Time      `json:"joined"`
	Avatar []byte         `json:"avatar"`
	Home   address        `json:"home"`
	Work   *address       `json:"work"`
	Tags   []string       `json:"tags"`
	Counts map[string]int `json:"counts"`
}

func sameProfile(a, b profile) bool {
	if !a.Joined.Equal(b.Joined) {
		return false
	}
	a.Joined, b.Joined = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func testTyped(t *testing.T, h *harness) {
	want := profile{
		Name:   "Ada Lovelace ✓",
		ID:     1<<60 + 1, // beyond float64's exact integers
		Score:  97.25,
		Admin:  true,
		Joined: time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC),
		Avatar: []byte{0, 1, 2, 0xff},
		Home:   address{City: "London", Zip: "W1"},
		Work:   &address{City: "Cambridge"},
		Tags:   []string{"math", "engines"},
		Counts: map[string]int{"logins": 3},
	}
	codecs := []struct {
		name  string
		codec cache.Codec
	}{{"cbor", cache.CBORCodec{}}, {"json", cache.JSONCodec{}}, {"msgpack", session.MsgpackCodec{}}}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			errs := make(chan error, 10)
			check := func(got profile, ok bool, err error, what string) {
				switch {
				case err != nil || !ok:
					errs <- fmt.Errorf("%s: ok %v, err %v", what, ok, err)
				case !sameProfile(got, want):
					errs <- fmt.Errorf("%s: got %+v, want %+v", what, got, want)
				}
			}
			e := h.newEnv(t, map[string]http.HandlerFunc{
				"/put": func(w http.ResponseWriter, r *http.Request) {
					s := session.FromContext(r.Context())
					s.Set("profile", want)
					s.Set("n", 5)
					got, ok, err := session.GetAs[profile](s, "profile")
					check(got, ok, err, "GetAs in the request that Set it")
					if n, _, err := session.GetAs[int64](s, "n"); n != 5 || err != nil {
						errs <- fmt.Errorf("GetAs[int64] of an int Set in this request = %d, %v", n, err)
					}
				},
				"/read": func(w http.ResponseWriter, r *http.Request) {
					s := session.FromContext(r.Context())
					got, ok, err := session.GetAs[profile](s, "profile")
					check(got, ok, err, "GetAs in a later request")
					p, ok, err := session.GetAs[*profile](s, "profile")
					if err != nil || !ok || p == nil {
						errs <- fmt.Errorf("GetAs[*profile]: %v, %v, %v", p, ok, err)
					} else {
						check(*p, ok, err, "GetAs[*profile]")
					}
					if n, _, err := session.GetAs[int](s, "n"); n != 5 || err != nil {
						errs <- fmt.Errorf("GetAs[int] = %d, %v", n, err)
					}
					if v, ok := s.Get("profile"); !ok || reflect.TypeOf(v) != reflect.TypeFor[map[string]any]() {
						errs <- fmt.Errorf("Get of a stored struct = %T, want map[string]any", v)
					}
					var de *cache.DecodeError
					if _, ok, err := session.GetAs[int](s, "profile"); !ok || !errors.As(err, &de) || de.Key != "profile" {
						errs <- fmt.Errorf("GetAs[int] of a struct: ok %v, err %v; want a *cache.DecodeError", ok, err)
					}
					if _, ok, err := session.GetAs[profile](s, "absent"); ok || err != nil {
						errs <- fmt.Errorf("GetAs of an absent key: ok %v, err %v", ok, err)
					}
				},
			}, session.WithCodec(c.codec))
			e.must("/put")
			e.must("/read")
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func testStoreDownLoad(t *testing.T, h *harness) {
	var logs syncBuffer
	e := h.newEnv(t, nil, session.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	e.must("/set?k=a&v=1")
	e.rec.down.Store(true)
	res := e.get("/get?k=a")
	if res.status != http.StatusInternalServerError || res.body != "Internal Server Error\n" {
		t.Fatalf("store down: status %d, body %q; want 500 with the status text", res.status, res.body)
	}
	if !strings.Contains(logs.String(), errDown.Error()) {
		t.Fatalf("the store error was not logged; log: %q", logs.String())
	}
	// A request that brings no cookie does not need the store.
	if res := e.getWith("", "/plain"); res.status != http.StatusOK {
		t.Fatalf("a request without a session failed while the store was down: %d", res.status)
	}
	e.rec.down.Store(false)
	if got := e.must("/get?k=a").body; got != "1" {
		t.Fatalf("after the store came back, a = %q", got)
	}
}

func testStoreDownSave(t *testing.T, h *harness) {
	handled := make(chan error, 1)
	writeErr := make(chan error, 1)
	e := h.newEnv(t, map[string]http.HandlerFunc{
		"/write": func(w http.ResponseWriter, r *http.Request) {
			session.FromContext(r.Context()).Set("a", "1")
			_, err := w.Write([]byte("the handler's response"))
			writeErr <- err
		},
	}, session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		handled <- err
		http.Error(w, "try again later", http.StatusServiceUnavailable)
	}))
	e.rec.down.Store(true)
	res := e.get("/write")
	if res.status != http.StatusServiceUnavailable || res.body != "try again later\n" || res.cookie != nil {
		t.Fatalf("save failed: status %d, body %q, cookie %v; want the error handler's response only", res.status, res.body, res.cookie)
	}
	if err := <-handled; !errors.Is(err, errDown) {
		t.Fatalf("the error handler got %v, want the store's error", err)
	}
	if err := <-writeErr; err == nil {
		t.Fatal("the handler's Write after a failed save returned no error")
	}
}

func testUnencodable(t *testing.T, h *harness) {
	e := h.newEnv(t, map[string]http.HandlerFunc{
		"/chan": func(w http.ResponseWriter, r *http.Request) {
			session.FromContext(r.Context()).Set("c", make(chan int))
		},
	}, session.WithLogger(slog.New(slog.DiscardHandler)))
	if res := e.get("/chan"); res.status != http.StatusInternalServerError || res.cookie != nil {
		t.Fatalf("an unencodable value: status %d, cookie %v; want 500 and no cookie", res.status, res.cookie)
	}
	if _, writes := e.rec.counts(); writes != 0 {
		t.Fatalf("an unencodable value made %d store writes", writes)
	}
}

func testConcurrent(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	e.must("/set?k=base&v=0&k=gone&v=1")
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { e.must(fmt.Sprintf("/setslow?k=k%d&v=%d", i, i)) })
	}
	wg.Go(func() { e.must("/deleteslow?k=gone") })
	wg.Wait()
	want := []string{"base"}
	for i := range n {
		want = append(want, fmt.Sprintf("k%d", i))
	}
	if got := e.must("/keys").body; got != strings.Join(want, ",") {
		t.Fatalf("after %d concurrent requests each setting its own key and one deleting another, keys = %q, want %q", n, got, strings.Join(want, ","))
	}
}

func testLate(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	e.must("/set?k=a&v=1")
	if res := e.must("/late?k=b&v=2"); res.body != "started" {
		t.Fatalf("body %q", res.body)
	}
	if got := e.must("/keys").body; got != "a,b" {
		t.Fatalf("keys = %q after a change made while streaming, want a,b", got)
	}
	// A new session filled only after the response started has no cookie
	// to reach the client, so it is not stored.
	e2 := h.newEnv(t, nil, session.WithLogger(slog.New(slog.DiscardHandler)))
	if res := e2.must("/late?k=b&v=2"); res.cookie != nil {
		t.Fatalf("cookie %v after the response started", res.cookie)
	}
	if _, writes := e2.rec.counts(); writes != 0 {
		t.Fatalf("a new session filled after the response started made %d writes", writes)
	}
}

func testFlush(t *testing.T, h *harness) {
	release := make(chan struct{})
	var once sync.Once
	done := func() { once.Do(func() { close(release) }) }
	defer done() // before the server's cleanup waits for the handler
	e := h.newEnv(t, map[string]http.HandlerFunc{
		"/stream": func(w http.ResponseWriter, r *http.Request) {
			session.FromContext(r.Context()).Set("a", "1")
			w.(http.Flusher).Flush()
			<-release // the headers are out, the body is not finished
			w.Write([]byte("done"))
		},
	})
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.Do(req) // returns once the headers have arrived
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == session.DefaultCookieName {
			cookie = c
		}
	}
	// The entry exists as soon as the cookie is out.
	if got := e.getWith(cookieValue(cookie), "/get?k=a").body; got != "1" {
		t.Errorf("while the response streams, the cookie's session has a = %q", got)
	}
	done()
	if cookie == nil {
		t.Fatalf("the flushed headers carry no session cookie: %v", resp.Header)
	}
}

func cookieValue(c *http.Cookie) string {
	if c == nil {
		return ""
	}
	return c.Value
}

func testResponseController(t *testing.T, h *harness) {
	errs := make(chan error, 2)
	e := h.newEnv(t, map[string]http.HandlerFunc{
		"/rc": func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			errs <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
			errs <- rc.EnableFullDuplex()
		},
	})
	e.must("/rc")
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("http.ResponseController through the session writer: %v", err)
		}
	}
}

func testVary(t *testing.T, h *harness) {
	e := h.newEnv(t, map[string]http.HandlerFunc{
		"/varies": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "Accept-Encoding, cookie")
			session.FromContext(r.Context()).Set("a", "1")
		},
	})
	res := e.must("/set?k=a&v=1")
	if got := res.header.Values("Vary"); len(got) != 1 || got[0] != "Cookie" {
		t.Fatalf("Vary = %q, want [Cookie]", got)
	}
	res = e.must("/varies")
	if got := res.header.Values("Vary"); len(got) != 1 || got[0] != "Accept-Encoding, cookie" {
		t.Fatalf("Vary = %q, want the handler's own only", got)
	}
}

func testSweeps(t *testing.T, h *harness) {
	e := h.newEnv(t, nil)
	sw, ok := e.store.(*sweepRecorder)
	if !ok {
		t.Skip("the adapter does not implement cache.Sweeper")
	}
	m := e.use(session.WithSweepInterval(10 * time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for sw.sweeps.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no sweep within 5 s at a 10 ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.Close()
	n := sw.sweeps.Load()
	time.Sleep(50 * time.Millisecond)
	if after := sw.sweeps.Load(); after != n {
		t.Fatalf("%d sweeps after Close", after-n)
	}
}

// varies reports whether the response varies by cookie.
func varies(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "Cookie") {
				return true
			}
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer that a logger may write to from the server's
// goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
