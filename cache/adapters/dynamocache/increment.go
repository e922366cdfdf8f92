package dynamocache

import (
	"context"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
)

// Increment adds delta to the counter under key and returns the result.
//
// The common case, a live counter, is one UpdateItem: ADD n, conditioned on
// the item being a live counter and on n+delta staying within int64 (n <=
// MaxInt64-delta, checked by the service, so the range check is atomic with
// the addition; DynamoDB numbers would otherwise go on to 38 digits). When
// the condition fails, a consistent read tells why: a missing or expired
// item is replaced by a new counter with a conditional PutItem; a value
// stored by Set is parsed and replaced by a counter with an UpdateItem
// conditioned on the value being unchanged; an integer out of range gives
// cache.ErrOverflow and anything else cache.ErrNotInteger. A conditional
// write that loses a race starts over. None of these writes is sent again
// once it may have been applied: an Increment whose reply is lost returns
// an error matching cache.ErrUncertain rather than adding twice.
func (c *Cache) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return 0, err
	}
	pk := c.pk(key)
	for range casAttempts {
		n, ok, err := c.addToCounter(ctx, pk, delta)
		if err != nil || ok {
			return n, wrapIncrement(key, err)
		}
		it, err := c.getItem(ctx, pk, nil)
		if err != nil {
			return 0, wrapIncrement(key, err)
		}
		d, err := decode(it, nowMs())
		if err != nil {
			return 0, err
		}
		switch {
		case !d.live:
			// Missing or expired: counts as 0, and the new counter
			// never expires.
			ok, err = c.putIfAbsent(ctx, map[string]types.AttributeValue{
				AttrKey: &types.AttributeValueMemberB{Value: pk}, AttrCount: num(delta),
			})
			if err != nil {
				return 0, wrapIncrement(key, err)
			}
			if ok {
				return delta, nil
			}
		case d.counter:
			if _, err := cache.AddInt(d.n, delta); err != nil {
				return 0, wrapIncrement(key, err)
			}
			// In range and live: the counter changed after the ADD
			// was refused. Try again.
		default:
			old, err := cache.ParseInt(d.value)
			if err != nil {
				return 0, wrapIncrement(key, err)
			}
			sum, err := cache.AddInt(old, delta)
			if err != nil {
				return 0, wrapIncrement(key, err)
			}
			ok, err = c.toCounter(ctx, pk, d.value, sum)
			if err != nil {
				return 0, wrapIncrement(key, err)
			}
			if ok {
				return sum, nil
			}
		}
	}
	return 0, fmt.Errorf("dynamocache: Increment %q: gave up after %d attempts: other writers kept changing the item", clip(key), casAttempts)
}

func wrapIncrement(key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("dynamocache: Increment %q: %w", clip(key), err)
}

var (
	addUp   = aws.String("attribute_exists(#n) AND (attribute_not_exists(#e) OR #e > :now) AND #n <= :lim")
	addDown = aws.String("attribute_exists(#n) AND (attribute_not_exists(#e) OR #e > :now) AND #n >= :lim")
)

// addToCounter adds delta to a live counter whose result stays in range,
// and reports false when the item is anything else.
func (c *Cache) addToCounter(ctx context.Context, pk []byte, delta int64) (int64, bool, error) {
	cond, lim := addUp, int64(math.MaxInt64)-max(delta, 0)
	if delta < 0 {
		cond, lim = addDown, math.MinInt64-delta
	}
	out, err := write(ctx, c.client.UpdateItem, &dynamodb.UpdateItemInput{
		TableName:                 c.table,
		Key:                       keyAttr(pk),
		UpdateExpression:          aws.String("ADD #n :d"),
		ConditionExpression:       cond,
		ExpressionAttributeNames:  namesFor("#n", "#e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": num(delta), ":now": num(nowMs()), ":lim": num(lim)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	}, once)
	if ok, err := conditional(err); !ok {
		return 0, false, err
	}
	d, err := decode(out.Attributes, math.MinInt64)
	if err != nil || !d.counter {
		return 0, false, fmt.Errorf("dynamocache: ADD returned %v, not the counter (%v)", out.Attributes, err)
	}
	return d.n, true, nil
}

// toCounter replaces the value old of a live item by the counter n,
// keeping the item's expiry, and reports false when the item changed.
func (c *Cache) toCounter(ctx context.Context, pk, old []byte, n int64) (bool, error) {
	_, err := write(ctx, c.client.UpdateItem, &dynamodb.UpdateItemInput{
		TableName:                c.table,
		Key:                      keyAttr(pk),
		UpdateExpression:         aws.String("SET #n = :n REMOVE #v"),
		ConditionExpression:      aws.String("#v = :old AND (attribute_not_exists(#e) OR #e > :now)"),
		ExpressionAttributeNames: namesFor("#n", "#v", "#e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": num(n), ":old": &types.AttributeValueMemberB{Value: old}, ":now": num(nowMs()),
		},
	}, once)
	return conditional(err)
}
