package cache

import "errors"

// Errors shared by every adapter. Adapters wrap them with context, so test
// for them with errors.Is, never with ==.
var (
	// ErrNotFound reports a miss: the key was never set, was deleted or
	// has expired.
	ErrNotFound = errors.New("cache: key not found")

	// ErrInvalidTTL reports a negative TTL. Zero means "never expires".
	ErrInvalidTTL = errors.New("cache: invalid TTL: must be zero (no expiry) or positive")

	// ErrClosed reports a call on an adapter after its Close.
	ErrClosed = errors.New("cache: adapter is closed")

	// ErrNotInteger reports an Increment on a value that is not an ASCII
	// decimal integer within the int64 range.
	ErrNotInteger = errors.New("cache: value is not an integer")

	// ErrOverflow reports an Increment whose result would not fit in an int64.
	ErrOverflow = errors.New("cache: increment would overflow int64")

	// ErrTooLarge reports a value larger than the backend accepts.
	ErrTooLarge = errors.New("cache: value too large")

	// ErrUncertain reports a write whose outcome is unknown: its request
	// may have reached the server, but no reply came back (the connection
	// broke, or the deadline passed while the call waited). The write may
	// or may not have been applied; the adapter did not send it again.
	// Read the key to find out. Reads never return it. See "Lost replies"
	// in the package documentation.
	ErrUncertain = errors.New("cache: outcome unknown: the write may or may not have been applied")
)

// Errors of Open.
var (
	// ErrUnknownScheme reports a URL whose scheme no imported adapter
	// package registered.
	ErrUnknownScheme = errors.New("cache: unknown URL scheme")

	// ErrInvalidURL reports a URL that names a known scheme but cannot
	// configure its adapter: a missing part, an unknown parameter or a
	// value of the wrong type.
	ErrInvalidURL = errors.New("cache: invalid URL")
)
