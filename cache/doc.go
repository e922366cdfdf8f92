// Package cache defines one contract for key-value caches with expiry, the
// helpers that sit on top of it, and a typed front end, [Cache], that encodes
// Go values with a [Codec].
//
// A backend implements [Adapter]: bytes in, bytes out, a context first. It may
// also implement optional capabilities, found by type assertion the way
// database/sql finds optional driver interfaces: [Incrementer] for atomic
// counters, [Batcher] for one-round-trip batches and [Sweeper] for backends
// that do not remove expired entries by themselves, [Swapper] for
// compare-and-swap. The package-level helpers
// [Increment], [GetMany], [SetMany] and [DeleteMany] use a capability when it
// is present and fall back otherwise. [Viewer] gives zero-copy reads and
// [TTLGetter] the time an entry has left, which [Chain] uses to stack
// adapters fastest first.
//
// [Open] makes an adapter from a URL such as "redis://host:6379/0?prefix=app:"
// or "file:///var/cache/app": each adapter package registers its URL schemes
// with [Register] when it is imported, as database/sql drivers register
// their names.
//
// # The contract
//
// Every adapter in this module follows these rules, and the conformance suite
// in package cachetest checks each of them by name.
//
// TTL. A ttl of 0 means the entry never expires. A negative ttl is rejected
// with [ErrInvalidTTL] and nothing is stored. A positive ttl shorter than the
// backend's resolution (one second for some servers) is rounded up to that
// resolution: it never turns into "no expiry" and never into "already expired".
//
// Miss. A key that was never set, was deleted or has expired gives an error
// for which errors.Is(err, [ErrNotFound]) is true. An empty value is a hit: Get
// returns a non-nil empty slice and a nil error.
//
// Add stores the value only when the key is absent or expired, atomically:
// when N callers Add the same key at once, exactly one of them gets true.
//
// Delete reports whether an unexpired entry existed. Has reports whether an
// unexpired entry exists.
//
// Increment adds delta to the integer stored under a key, atomically, and
// returns the new value. Counters are stored as ASCII decimal (an optional '-'
// then digits), so Set(k, "10") then Increment(k, 5) returns 15 and Get(k)
// returns "15", and Redis INCRBY or Memcached incr can work on the same
// bytes. A missing or expired key counts as 0 and the entry it creates never
// expires; an existing entry keeps its expiry. The whole int64 range works. A
// value that is not an integer gives [ErrNotInteger] and a result outside the
// int64 range gives [ErrOverflow]; in both cases the stored value is unchanged.
//
// CompareAndSwap stores a value only when the entry is unexpired and still
// at the [Version] GetVersion returned, atomically: when N callers swap the
// same version at once, exactly one of them gets true. It never creates an
// entry. CompareAndTouch does the same for the TTL alone. A swap that
// reports false changed nothing.
//
// Clear removes every entry this adapter wrote (its namespace, folder or key
// prefix) and nothing else: never a whole server, database or foreign file.
//
// Values are copied. Changing the slice passed to Set, or the slice Get
// returned, never changes what the cache holds.
//
// A value larger than the backend accepts gives [ErrTooLarge] and leaves the
// previous value in place; it is never truncated or dropped silently.
//
// Lost replies. A write whose request may have reached the server but whose
// reply never came (the connection broke, or the context's deadline or the
// adapter's timeout passed while it waited) has an unknown outcome. An
// adapter never sends Add, Delete, DeleteMany, Increment, CompareAndSwap or
// CompareAndTouch again in that case, since a second try would apply the
// change twice or report a wrong result (an Add that finds its own value
// reports false, a Delete that finds its own deletion reports false, a swap
// that finds its own value no longer at the version reports false). The call returns an error matching
// [ErrUncertain] instead: the write may or may not have been applied. Set,
// SetMany and Clear can return it too, for the same reason; adapters may
// resend them, since doing so twice stores the same thing. An error of a
// single-key write that does not match ErrUncertain means the write was not
// applied. Reads never return ErrUncertain, and adapters may retry them.
//
// Timeouts. Every method honours cancellation and deadlines of its context.
// An adapter of a networked backend also bounds every call by a per-call
// timeout of its own (documented by each adapter, and settable), applied
// when the context has no earlier deadline, so that a server that stops
// answering never blocks a caller whose context has none. Clear and
// DeleteExpired, which may take many round trips, apply it to each round
// trip rather than to the whole call.
//
// After Close, every method returns [ErrClosed]; Close may be called more than once
// and stops every goroutine the adapter started. Adapters are safe for
// concurrent use by many goroutines.
//
// Keys are arbitrary strings, including the empty string, spaces, newlines
// and any UTF-8 (or invalid UTF-8). An adapter whose backend restricts keys
// maps them to a safe form that cannot collide with another key.
package cache
