package dynamocache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"golang.org/x/sync/errgroup"
)

// GetMany returns the hits among keys with BatchGetItem, 100 keys a call,
// strongly consistent. Keys the service leaves unprocessed (throttling, or
// more than 16 MB in one answer) are asked for again after a backoff.
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return nil, err
	}
	hits := make(map[string][]byte, len(keys))
	// BatchGetItem refuses a key given twice.
	byPK := make(map[string]string, len(keys))
	pks := make([]map[string]types.AttributeValue, 0, len(keys))
	for _, k := range keys {
		pk := c.pk(k)
		if _, dup := byPK[string(pk)]; !dup {
			byPK[string(pk)] = k
			pks = append(pks, keyAttr(pk))
		}
	}
	for len(pks) > 0 {
		chunk := pks[:min(batchGetSize, len(pks))]
		pks = pks[len(chunk):]
		req := map[string]types.KeysAndAttributes{*c.table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for b := newBackoff(maxBatchRetries); ; {
			out, err := c.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("dynamocache: GetMany: %w", err)
			}
			now := nowMs()
			for _, it := range out.Responses[*c.table] {
				pk, _ := it[AttrKey].(*types.AttributeValueMemberB)
				key, ok := "", pk != nil
				if ok {
					key, ok = byPK[string(pk.Value)]
				}
				if !ok {
					return nil, fmt.Errorf("dynamocache: GetMany: the service answered with an item that was not asked for")
				}
				d, err := decode(it, now)
				if err != nil {
					return nil, err
				}
				if d.live {
					hits[key] = d.bytes()
				}
			}
			rest := out.UnprocessedKeys[*c.table]
			if len(rest.Keys) == 0 {
				break
			}
			if err := b.wait(ctx); err != nil {
				return nil, fmt.Errorf("dynamocache: GetMany: %d keys unprocessed: %w", len(rest.Keys), err)
			}
			req = out.UnprocessedKeys
		}
	}
	return hits, nil
}

// SetMany stores every item with the same ttl with BatchWriteItem, 25 items a
// call, retrying unprocessed items after a backoff. Every value is checked
// against the item size limit before anything is sent. Each item is written
// atomically, the batch is not: after an error, some items may be stored.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return err
	}
	exp := expiry(ttl)
	reqs := make([]types.WriteRequest, 0, len(items))
	for k, v := range items {
		it, err := c.item(k, c.pk(k), v, exp)
		if err != nil {
			return err
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	if err := c.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("dynamocache: SetMany: %w", err)
	}
	return nil
}

// batchWrite sends reqs with BatchWriteItem, 25 a call, until the service
// has processed all of them. Puts and deletes of whole items may be sent
// again: what the service reports unprocessed it did not apply, and the
// SDK's retries of a call that may have been applied write the same thing.
func (c *Cache) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for len(reqs) > 0 {
		chunk := reqs[:min(batchWriteSize, len(reqs))]
		reqs = reqs[len(chunk):]
		req := map[string][]types.WriteRequest{*c.table: chunk}
		for b := newBackoff(maxBatchRetries); ; {
			out, err := write(ctx, c.client.BatchWriteItem, &dynamodb.BatchWriteItemInput{RequestItems: req}, idempotent)
			if err != nil {
				return err
			}
			rest := out.UnprocessedItems[*c.table]
			if len(rest) == 0 {
				break
			}
			if err := b.wait(ctx); err != nil {
				return fmt.Errorf("%d writes unprocessed: %w", len(rest), err)
			}
			req = out.UnprocessedItems
		}
	}
	return nil
}

// DeleteMany removes keys and counts the unexpired entries among them. It
// sends one conditional DeleteItem per distinct key, up to 16 at a time,
// like Delete, rather than BatchWriteItem, which reports nothing about what
// it removed: the count is exact even while other writers change the keys.
// On an error it returns how many it had deleted by then.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int, error) {
	ctx, cancel, err := calltimeout.Begin(ctx, c.timeout, c.open(ctx))
	defer cancel()
	if err != nil {
		return 0, err
	}
	seen := make(map[string]bool, len(keys))
	pks := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if pk := c.pk(k); !seen[string(pk)] {
			seen[string(pk)] = true
			pks = append(pks, pk)
		}
	}
	n, err := c.deleteEach(ctx, pks, c.deleteLive)
	if err != nil {
		return n, fmt.Errorf("dynamocache: DeleteMany: %w", err)
	}
	return n, nil
}

// deleteEach calls del on every key, up to parallelDeletes at once, and
// counts the calls that reported true. The first error cancels the deletes
// in flight, whose outcome is then unknown: when any delete's error
// matches cache.ErrUncertain, so does the one returned.
func (c *Cache) deleteEach(ctx context.Context, pks [][]byte, del func(context.Context, []byte) (bool, error)) (int, error) {
	var n atomic.Int64
	var uncertain atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelDeletes)
	for _, pk := range pks {
		g.Go(func() error {
			ok, err := del(gctx, pk)
			if ok {
				n.Add(1)
			}
			if errors.Is(err, cache.ErrUncertain) {
				uncertain.Store(true)
			}
			return err
		})
	}
	err := g.Wait()
	if uncertain.Load() && !errors.Is(err, cache.ErrUncertain) {
		err = fmt.Errorf("%w: %w", cache.ErrUncertain, err)
	}
	return int(n.Load()), err
}

// Clear deletes every item under the prefix: a strongly consistent Scan of
// the keys, filtered by the prefix, and BatchWriteItem deletes. Without a
// prefix it deletes every item of the table. Items written during a Clear
// may survive it. Each page of the Scan, and the deletes of each page, are
// bounded by the Cache's timeout rather than the whole call.
func (c *Cache) Clear(ctx context.Context) error {
	if err := c.open(ctx); err != nil {
		return err
	}
	err := c.scan(ctx, nil, func(ctx context.Context, page [][]byte) error {
		reqs := make([]types.WriteRequest, len(page))
		for i, pk := range page {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keyAttr(pk)}}
		}
		return c.batchWrite(ctx, reqs)
	})
	if err != nil {
		return fmt.Errorf("dynamocache: Clear: %w", err)
	}
	return nil
}

// DeleteExpired deletes the expired items under the prefix and reports how
// many it deleted: a Scan for them, then a DeleteItem for each, conditioned
// on the item still being expired, so an item rewritten in between stays.
// Each page is bounded by the Cache's timeout, as in Clear, and each
// DeleteItem is sent once, so that the count is exact.
// Where the table's TTL is enabled DynamoDB deletes expired items too, up
// to days late; DeleteExpired is for the services that never do (dynalite,
// DynamoDB Local) and for reclaiming space sooner.
func (c *Cache) DeleteExpired(ctx context.Context) (int, error) {
	if err := c.open(ctx); err != nil {
		return 0, err
	}
	total := 0
	expired := aws.String("#e <= :now")
	err := c.scan(ctx, expired, func(ctx context.Context, page [][]byte) error {
		n, err := c.deleteEach(ctx, page, func(ctx context.Context, pk []byte) (bool, error) {
			_, err := write(ctx, c.client.DeleteItem, &dynamodb.DeleteItemInput{
				TableName:                 c.table,
				Key:                       keyAttr(pk),
				ConditionExpression:       expired,
				ExpressionAttributeNames:  namesFor("#e"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(nowMs())},
			}, once)
			return conditional(err)
		})
		total += n
		return err
	})
	if err != nil {
		return total, fmt.Errorf("dynamocache: DeleteExpired: %w", err)
	}
	return total, nil
}

// scan calls fn with the keys under the prefix of each page of a strongly
// consistent Scan, filtered by filter (on #e and :now) when it is not nil.
// Each Scan call and each call of fn get a context bounded by the Cache's
// timeout.
// The prefix is matched here rather than by a filter expression: the
// service reads the whole table either way, and begins_with on binary
// attributes is not supported everywhere.
func (c *Cache) scan(ctx context.Context, filter *string, fn func(ctx context.Context, page [][]byte) error) error {
	in := &dynamodb.ScanInput{
		TableName:                c.table,
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#k"),
		ExpressionAttributeNames: namesFor("#k"),
	}
	if filter != nil {
		in.FilterExpression = filter
		in.ExpressionAttributeNames = namesFor("#k", "#e")
	}
	prefix := []byte(c.prefix)
	for {
		if filter != nil {
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":now": num(nowMs())}
		}
		var out *dynamodb.ScanOutput
		err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) (err error) {
			out, err = c.client.Scan(ctx, in)
			return err
		})
		if err != nil {
			return err
		}
		page := make([][]byte, 0, len(out.Items))
		for _, it := range out.Items {
			if pk, ok := it[AttrKey].(*types.AttributeValueMemberB); ok && bytes.HasPrefix(pk.Value, prefix) {
				page = append(page, pk.Value)
			}
		}
		if len(page) > 0 {
			if err := calltimeout.Step(ctx, c.timeout, func(ctx context.Context) error { return fn(ctx, page) }); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// maxBatchRetries bounds how often a batch call is repeated for what the
// service left unprocessed: with the backoff below, about 20 s.
const maxBatchRetries = 12

var errRetries = errors.New("still unprocessed after the last retry")

// backoff spaces out retries: 25 ms doubling up to 2 s, with jitter so
// that clients throttled together do not retry together.
type backoff struct {
	attempt, limit int
}

// newBackoff allows limit waits; 0 means no limit but the context's.
func newBackoff(limit int) *backoff { return &backoff{limit: limit} }

func (b *backoff) wait(ctx context.Context) error {
	if b.limit > 0 && b.attempt >= b.limit {
		return errRetries
	}
	d := min(25*time.Millisecond<<min(b.attempt, 7), 2*time.Second)
	b.attempt++
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
