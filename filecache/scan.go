package filecache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// The functions here walk the whole folder: New's count, DeleteExpired,
// pruning and Clear. Each removes a file only under its stripe lock and
// after checking that the file is still the one it looked at, so a walk
// never deletes a value that a concurrent writer has just renamed in.

// scan calls fn with the name of every file in the folder. It stops at the
// first error from fn, when ctx ends, or when Close begins.
func (c *Cache) scan(ctx context.Context, fn func(name string) error) error {
	d, err := openFolderNoFollow(c.dir)
	if err != nil {
		if cerr := checkFolder(c.dir); cerr != nil {
			err = cerr
		}
		return fmt.Errorf("filecache: listing folder: %w", err)
	}
	defer d.Close()
	for {
		// Readdirnames in batches: no stat per file and no sorting, and
		// memory bounded by the batch rather than the folder.
		names, err := d.Readdirnames(256)
		for _, name := range names {
			if c.closing.Load() {
				return errClosed
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(name); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("filecache: listing folder: %w", err)
		}
	}
}

// peek reads and checks only the header of the entry file at path, which is
// all a walk needs; a damaged value is left for a read to find. The keep
// flag works as in load. buf is scratch space that lives for the walk.
func (c *Cache) peek(path string, now int64, buf *[headerSize]byte, keep bool) (loaded, error) {
	f, l, err := openStatus(path)
	if err != nil || l.st != stLive {
		return l, err
	}
	n, err := readAtLeast(f, buf[:], headerSize)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		f.Close()
		return loaded{}, err
	}
	switch h, derr := parseHeader(buf[:n]); {
	case derr == nil && h.expired(now):
		l = loaded{st: stExpired, h: h}
	case derr == nil:
		l = loaded{st: stLive, h: h}
	case errors.Is(derr, errForeign):
		l = loaded{st: stForeign, err: derr}
	default:
		l = loaded{st: stCorrupt, err: derr}
	}
	if keep && (l.st == stExpired || l.st == stCorrupt) {
		l.f, l.kept = f, true
	} else {
		f.Close()
	}
	return l, nil
}

// DeleteExpired removes expired entries and reports how many it removed. It
// also removes damaged entries (logged, not counted) and temporary files
// older than five minutes, which only a crashed writer leaves behind, and
// corrects the entry count.
func (c *Cache) DeleteExpired(ctx context.Context) (int, error) {
	if err := c.enter(ctx); err != nil {
		return 0, err
	}
	defer c.life.RUnlock()
	removed, _, _, err := c.sweep(c.budget(ctx), false)
	return removed, err
}

// candidate is a live entry that pruning may evict.
type candidate struct {
	name string
	h    header
}

// sweep walks the folder, removes expired and damaged entries and stale
// temporary files, and reconciles the count with the entry files it leaves.
// With collect it also returns the live entries. It stops when a wait for a
// lock runs out of budget.
func (c *Cache) sweep(b *budget, collect bool) (removed, remaining int, live []candidate, err error) {
	now := time.Now()
	nowNs := now.UnixNano()
	buf := new([headerSize]byte)
	before, own := c.sh.snapshot(), 0
	err = c.scan(b.ctx, func(name string) error {
		if isTempName(name) {
			c.removeStaleTemp(name, now)
			return nil
		}
		if !isEntryName(name) {
			return nil
		}
		remaining++
		path := c.dir + string(os.PathSeparator) + name
		l, err := c.peek(path, nowNs, buf, true)
		if err != nil {
			// One unreadable file must not stop every future sweep.
			c.log().Warn("filecache: reading entry", "path", path, "err", err)
			return nil
		}
		switch l.st {
		case stMissing:
			remaining--
		case stLive:
			if collect {
				live = append(live, candidate{name, l.h})
			}
		case stExpired, stCorrupt:
			if l.st == stCorrupt {
				c.log().Warn("filecache: removing damaged entry", "path", path, "err", l.err)
			}
			ok, err := c.removeIfSame(b, path, stripeOf(name), l.f)
			if isWaitErr(err) {
				return err
			}
			if err != nil {
				c.log().Warn("filecache: removing entry", "path", path, "err", err)
				return nil
			}
			if ok {
				remaining--
				own++
				if l.st == stExpired {
					removed++
				}
			}
		}
		return nil
	})
	if err == nil {
		c.sh.reconcile(before, own, remaining)
	}
	return removed, remaining, live, err
}

func (c *Cache) removeStaleTemp(name string, now time.Time) {
	path := c.dir + string(os.PathSeparator) + name
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < staleTemp {
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log().Warn("filecache: removing stale temporary file", "path", path, "err", err)
	}
}

// isWaitErr reports whether err ends a call rather than one step of it:
// its context ended, its wait for a lock ran out, or the cache is closing.
func isWaitErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, cache.ErrClosed)
}

// admit makes room for a write that may create the entry at path: while
// the count is at the threshold, the write prunes, if it wins the election
// among the goroutines and processes that use the folder, or waits for the
// winner to make room. Checked before the entry is created, this makes the
// threshold a bound: beyond it, only writes that were admitted below it
// and have yet to create their entry, at most one per write in flight.
// An overwrite adds no entry and is let through.
func (c *Cache) admit(b *budget, path string) error {
	if c.threshold == 0 || c.sh.loadCount() < c.threshold {
		return nil
	}
	switch ok, err := exists(path); {
	case err != nil:
		return fmt.Errorf("filecache: %w", err)
	case ok:
		return nil
	}
	err := b.poll(func() (bool, error) {
		if c.sh.loadCount() < c.threshold {
			return true, nil
		}
		if !c.sh.tryScan() {
			return false, nil
		}
		defer c.sh.endScan()
		// Once it has pruned, the write goes ahead even if the count is
		// still at the threshold (files that only look like entries, say,
		// are counted but never pruned): it did what could be done.
		err := c.prune(b)
		if err != nil && !isWaitErr(err) {
			c.log().Warn("filecache: pruning", "dir", c.dir, "err", err)
			err = nil
		}
		return true, err
	})
	if err != nil {
		return fmt.Errorf("filecache: making room for an entry: %w", err)
	}
	return nil
}

// prune removes expired entries, then the live entries that expire soonest,
// then never-expiring entries oldest first, until the count, with the entry
// about to be written, is 10% (at least one entry) below the threshold.
// Going below the threshold rather than to it means the next scan is many
// writes away.
func (c *Cache) prune(b *budget) error {
	_, remaining, live, err := c.sweep(b, true)
	if err != nil {
		return err
	}
	target := max(0, int(c.threshold-max(1, c.threshold/10))-1)
	excess := remaining - target
	if excess <= 0 {
		return nil
	}
	slices.SortFunc(live, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(evictionTime(a.h), evictionTime(b.h)), cmp.Compare(a.h.written, b.h.written))
	})
	buf := new([headerSize]byte)
	evicted := 0
	for _, cand := range live {
		if evicted == excess {
			break
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
		path := c.dir + string(os.PathSeparator) + cand.name
		ok, err := c.removeIfUnchanged(b, path, stripeOf(cand.name), cand.h, buf)
		if err != nil {
			return err
		}
		if ok {
			evicted++
		}
	}
	c.log().Debug("filecache: pruned", "dir", c.dir, "evicted", evicted)
	return nil
}

// evictionTime orders entries for pruning: by expiry, with never-expiring
// entries after all others.
func evictionTime(h header) int64 {
	if h.expires == 0 {
		return math.MaxInt64
	}
	return h.expires
}

// removeIfUnchanged removes the entry at path if, under its stripe lock, its
// header is still h: the entry a walk chose to evict, not a value written
// since.
func (c *Cache) removeIfUnchanged(b *budget, path string, stripe int, h header, buf *[headerSize]byte) (bool, error) {
	if err := c.sh.lock(b, stripe); err != nil {
		return false, err
	}
	defer c.sh.unlock(stripe)
	l, err := c.peek(path, time.Now().UnixNano(), buf, false)
	if err != nil || (l.st != stLive && l.st != stExpired) || l.h != h {
		return false, err
	}
	return c.removeLocked(path)
}

// Clear removes every entry file in the folder: every file whose name has
// the entry pattern and whose content starts with the entry magic. Other
// files, including files that only look like entries by name, are left
// alone, and so are temporary files, which may belong to writes in flight.
func (c *Cache) Clear(ctx context.Context) error {
	if err := c.enter(ctx); err != nil {
		return err
	}
	defer c.life.RUnlock()
	b := c.budget(ctx)
	remaining, removed := 0, 0
	before := c.sh.snapshot()
	var buf [len(magic)]byte
	err := c.scan(ctx, func(name string) error {
		if !isEntryName(name) {
			return nil
		}
		remaining++
		path := c.dir + string(os.PathSeparator) + name
		f, l, err := openStatus(path)
		switch {
		case err != nil:
			return fmt.Errorf("filecache: clear: %w", err)
		case l.st == stMissing:
			remaining--
			return nil
		case l.st != stLive: // not a regular file: not ours
			return nil
		}
		if n, _ := readAtLeast(f, buf[:], len(magic)); n < len(magic) || string(buf[:]) != magic {
			f.Close()
			return nil
		}
		// If the file was replaced since it was opened, the new one was
		// written during the Clear and may stay.
		ok, err := c.removeIfSame(b, path, stripeOf(name), f)
		if err != nil {
			return fmt.Errorf("filecache: clear: %w", err)
		}
		if ok {
			remaining--
			removed++
		}
		return nil
	})
	if err == nil {
		c.sh.reconcile(before, removed, remaining)
	}
	return err
}
