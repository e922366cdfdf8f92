package mongocache

import (
	"errors"
	"fmt"
	"net"

	"github.com/cachelib-go/cachelib/cache"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// write passes on the result of a write, its error wrapped by failWrite.
func write[T any](v T, err error) (T, error) {
	if err != nil {
		err = failWrite(err)
	}
	return v, err
}

// failWrite wraps the error of a write so that it matches
// cache.ErrUncertain, unless it proves that the write was not applied.
func failWrite(err error) error {
	if unapplied(err) {
		return err
	}
	return fmt.Errorf("%w: %w", cache.ErrUncertain, err)
}

// unapplied reports whether the error of a write proves that the server
// did not apply it. It did not when the command never left (no server
// could be selected, no connection could be had or made), or when the
// server refused it with an error reply (a duplicate key, say), or found
// no document to change. The driver resends a write after a network error
// only where the server deduplicates it (retryable writes: a replica set
// or a sharded cluster, never a standalone server or FerretDB), and then
// reports the last attempt, whose refusal says nothing of an earlier one:
// the label RetryableWriteError marks those. A network error, a timeout
// while the reply was awaited, a write concern error (applied by the
// primary, not confirmed by the others) or a failed bulk write (applied in
// part) may hide an applied write.
func unapplied(err error) bool {
	var selection topology.ServerSelectionError
	var pool topology.WaitQueueTimeoutError
	var dial *net.OpError
	if errors.Is(err, mongo.ErrNoDocuments) || errors.As(err, &selection) || errors.As(err, &pool) ||
		errors.As(err, &dial) && dial.Op == "dial" {
		return true
	}
	var se mongo.ServerError
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.As(err, &se) && se.HasErrorLabel("RetryableWriteError") {
		return false
	}
	var ce mongo.CommandError
	var we mongo.WriteException
	switch {
	case errors.As(err, &ce):
		return ce.Code != 0
	case errors.As(err, &we):
		return we.WriteConcernError == nil && len(we.WriteErrors) > 0
	}
	return false
}
