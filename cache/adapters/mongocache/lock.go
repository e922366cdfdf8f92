package mongocache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// withLock runs fn holding the key lock of id (FerretDB; see the package
// documentation).
//
// The calls of one Cache that need the same key take turns in the process
// first, in their order of arrival, so that a single one of them contends
// for the lock document. Each query FerretDB answers reads the whole
// collection (its SQLite backend does not use the _id index to find a
// document), and waiters that polled the lock document would keep it busy
// reading while the holder's own reads and writes queue behind theirs:
// eight goroutines incrementing one key of a collection holding a 1 MiB
// value made fewer than 200 increments in ten minutes that way.
func (c *Cache) withLock(ctx context.Context, id string, fn func(ctx context.Context) error) error {
	leave, err := c.turns.wait(ctx, id)
	if err != nil {
		return fmt.Errorf("wait for the key lock: %w", err)
	}
	defer leave()
	lockID := lockMark + id
	owner := bson.NewObjectID()
	if err := c.lock(ctx, lockID, owner); err != nil {
		return fmt.Errorf("take the key lock: %w", err)
	}
	err = fn(ctx)
	if ctx.Err() == nil {
		// The lease lasts until ctx's deadline, so the lock is still
		// this call's, and _id alone finds it (FerretDB filters by a
		// lone _id in SQLite, faster than by a compound filter). A
		// release that fails leaves fn's outcome as it is: the lease
		// frees the key by then.
		_, _ = c.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: lockID}})
	}
	return err
}

// lock inserts the lock document of owner, whose lease ends with ctx's
// deadline (every call has one, the Cache's timeout at the latest),
// waiting while another process holds it. A failed insert costs FerretDB
// little (the _id index refuses it), so waiting is trying again, with a
// backoff; the lock document is read only when the lease last seen may
// have ended, to remove a lock whose holder is gone.
func (c *Cache) lock(ctx context.Context, lockID string, owner bson.ObjectID) error {
	deadline, _ := ctx.Deadline()
	doc := bson.D{{Key: "_id", Value: lockID}, {Key: "o", Value: owner}, {Key: "e", Value: bson.NewDateTimeFromTime(deadline)}}
	var leaseSeen bson.DateTime // when the lock last seen held expires
	for wait := time.Millisecond; ; wait = min(2*wait, 32*time.Millisecond) {
		_, err := c.coll.InsertOne(ctx, doc)
		switch {
		case err == nil:
			return nil
		case !mongo.IsDuplicateKeyError(err):
			c.unlockLost(ctx, lockID, owner)
			return err
		case now() >= leaseSeen:
			var held entry
			err := c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: lockID}}).Decode(&held)
			switch {
			case errors.Is(err, mongo.ErrNoDocuments):
				continue // released meanwhile
			case err != nil:
				return err
			case !held.live(now()):
				// Left by a holder that is gone; the filter on its
				// expiry spares a lock taken since.
				if _, err := c.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: lockID}, {Key: "e", Value: held.E}}); err != nil {
					return err
				}
				continue
			}
			leaseSeen = held.E
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// unlockLost removes the lock of owner that an insert whose reply was lost
// may have left, so that the key is not held until the lease ends. Once
// ctx is done the lease has ended too, and there is nothing to remove.
func (c *Cache) unlockLost(ctx context.Context, lockID string, owner bson.ObjectID) {
	if ctx.Err() != nil {
		return
	}
	var held struct {
		Owner bson.ObjectID `bson:"o"`
	}
	if c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: lockID}}).Decode(&held) == nil && held.Owner == owner {
		_, _ = c.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: lockID}})
	}
}

// turns makes the calls of one Cache that lock the same key wait for each
// other in the process, in order of arrival.
type turns struct {
	mu    sync.Mutex
	lines map[string]*line
}

// line is the calls holding or waiting for one key.
type line struct {
	token chan struct{} // full while a call holds the key
	calls int           // guarded by turns.mu
}

// wait returns once the calls of this Cache that came earlier for id are
// done, or with ctx's error; leave ends the turn.
func (t *turns) wait(ctx context.Context, id string) (leave func(), err error) {
	t.mu.Lock()
	if t.lines == nil {
		t.lines = map[string]*line{}
	}
	l := t.lines[id]
	if l == nil {
		l = &line{token: make(chan struct{}, 1)}
		t.lines[id] = l
	}
	l.calls++
	t.mu.Unlock()
	done := func() {
		t.mu.Lock()
		if l.calls--; l.calls == 0 {
			delete(t.lines, id)
		}
		t.mu.Unlock()
	}
	// Blocked senders on a channel proceed in their order of arrival.
	select {
	case l.token <- struct{}{}:
		return func() { <-l.token; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
