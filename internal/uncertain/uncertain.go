// Package uncertain classifies the errors of writes to a server: a write
// whose request may have reached the server, but whose outcome the client
// never learned, returns an error matching cache.ErrUncertain (see "Lost
// replies" in package cache). The adapters decide, each for its own
// protocol, which errors are the server's refusal; this package knows the
// errors that say a request never left the client.
package uncertain

import (
	"errors"
	"fmt"
	"net"

	"github.com/cachelib-go/cachelib/cache"
)

// Wrap returns err so that it also matches cache.ErrUncertain, or err itself
// when it is nil or already does.
func Wrap(err error) error {
	if err == nil || errors.Is(err, cache.ErrUncertain) {
		return err
	}
	return fmt.Errorf("%w: %w", cache.ErrUncertain, err)
}

// Unsent reports whether err certainly happened before any byte of the
// request was sent: a failure to connect (dialling fails before a
// connection exists, timeouts of connecting included), or an error that
// says so itself with a SafeToRetry method, as pgx's do.
func Unsent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var retryable interface{ SafeToRetry() bool }
	return errors.As(err, &retryable) && retryable.SafeToRetry()
}
