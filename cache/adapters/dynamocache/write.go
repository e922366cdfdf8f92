package dynamocache

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/cachelib-go/cachelib/cache"
)

// The SDK's retryer sends a request again when an attempt fails with a
// connection error or a 5xx answer, although the service may have applied
// the attempt before the connection broke. For PutItem of a whole item, or
// a BatchWriteItem of puts and deletes, a second application stores the
// same thing. For an UpdateItem ADD it adds twice, and for a conditional
// PutItem or DeleteItem the second try finds the first one's work and
// reports the condition failing: Add would say false about its own value,
// Delete that nothing was there. Those writes are sent "once": the SDK may
// repeat an attempt only when its failure proves that the service did not
// apply it.
const (
	once       = true
	idempotent = false
)

// write makes one write request with op, letting the client's retryer
// repeat it only as once allows (see above). Its error matches
// cache.ErrUncertain unless no attempt of it can have been applied; a
// failed condition is an answer, not an uncertainty.
func write[In, Out any](ctx context.Context, op func(context.Context, In, ...func(*dynamodb.Options)) (Out, error), in In, once bool) (Out, error) {
	w := &watch{once: once}
	out, err := op(ctx, in, w.install)
	if err != nil && (w.applied || !unapplied(err)) {
		err = fmt.Errorf("%w: %w", cache.ErrUncertain, err)
	}
	return out, err
}

// watch is the retryer of one write call: the client's own, which it asks
// about every failed attempt after noting whether the attempt may have
// been applied.
type watch struct {
	aws.Retryer
	once    bool
	applied bool // an attempt failed in a way that does not prove it was not applied
}

// install makes w the retryer of the call, in front of the client's.
func (w *watch) install(o *dynamodb.Options) {
	w.Retryer = o.Retryer
	o.Retryer = w
}

// IsErrorRetryable is the client retryer's answer, except that a write
// sent once is not repeated after an attempt that may have been applied.
func (w *watch) IsErrorRetryable(err error) bool {
	if !unapplied(err) {
		w.applied = true
		if w.once {
			return false
		}
	}
	return w.Retryer.IsErrorRetryable(err)
}

// GetAttemptToken makes watch an aws.RetryerV2, as the SDK's middleware
// does with a retryer that is not one.
func (w *watch) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if r, ok := w.Retryer.(aws.RetryerV2); ok {
		return r.GetAttemptToken(ctx)
	}
	return w.GetInitialToken(), nil
}

// unapplied reports whether a failed attempt certainly left the table
// unchanged: the service refused the request with a 4xx answer (a failed
// condition, a validation error, or throttling, which DynamoDB documents
// as rejecting the request), or no connection to it could be made.
// Anything else, a broken connection, a timeout or a 5xx (which DynamoDB
// documents as "may or may not have succeeded"), may have been applied.
func unapplied(err error) bool {
	var apiErr smithy.APIError
	var status interface{ HTTPStatusCode() int }
	var opErr *net.OpError
	switch {
	case errors.As(err, &apiErr) && errors.As(err, &status):
		return status.HTTPStatusCode() >= 400 && status.HTTPStatusCode() < 500
	case errors.As(err, &opErr):
		return opErr.Op == "dial"
	}
	return false
}
