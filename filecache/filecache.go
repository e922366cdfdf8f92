// Package filecache is a cache.Adapter that keeps one file per entry in a
// folder, in the manner of Python cachelib's FileSystemCache, and that
// several processes on one machine may share.
//
// # Files
//
// An entry lives in a file named after the SHA-256 of its key (64 hex digits
// and ".fc"), so every string is a key, none can name a path outside the
// folder, and two keys never share a file. The file starts with a 40-byte
// header (a magic, a format version, the expiry in unix nanoseconds, the
// value's length and CRC-32C, and a CRC-32C of the header itself) followed by
// the value. A damaged or truncated file reads as a miss, is logged at warn
// level and removed.
//
// A write goes to a temporary file in the same folder (named ".fc-tmp-...")
// that is then renamed over the entry, so a reader sees the old value or the
// new one and never a mix. Nothing is fsynced, since this is a cache: after a
// power loss or a kernel crash an entry may be missing, old, or read as
// damaged (and then removed), all of which are misses at worst, while an
// fsync would make every Set wait for the disk.
//
// The cache never follows a symbolic link and never opens anything but a
// regular file as one of its own. Something other than a regular file under
// an entry's name (a symbolic link, a FIFO, a folder) is treated like a
// file another program wrote: a miss, logged and left alone, which a write
// of that key replaces; a FIFO in particular is never waited on. The
// folder, its ".locks" subfolder and the lock files in it must be a folder,
// a folder, and regular files with a single link, or New, or the call that
// opens a lock file, fails with an error matching ErrUnsafeFile. So a user
// who shares the folder through a group (see WithMode) cannot, by planting
// a link, make another user's process change or overwrite a file it can
// reach and the planter cannot.
//
// # Sharing a folder
//
// Several Caches, in one process or in many, may use the same folder. Add and
// Increment stay atomic across all of them, and so do Set and Delete with
// respect to Add: writers of a key hold one of 64 lock stripes, each an
// in-process semaphore plus flock(2) on a file in the ".locks" subfolder.
// Reads take no lock: a read that finds an expired or damaged file removes
// it only if its stripe is free at once. Locks and counters live in memory
// shared through the local kernel, so the folder must not be shared between
// machines (over NFS, say).
//
// No call waits without bound, even when a process holding a lock is
// stopped or hangs. A blocked flock cannot be interrupted, so a call that
// finds a lock taken tries again, backing off up to a couple of
// milliseconds between tries, until its context ends or, at the latest,
// the lock timeout after it first had to wait (see WithLockTimeout): then
// it fails with the context's error, or with one matching ErrLockTimeout
// and context.DeadlineExceeded. Waiting by polling is not fair: under heavy
// contention for one stripe between processes, one may wait longer than
// with a blocking flock, up to the same bound.
//
// The entry counter is a file too, mapped into every process. New writes
// its page with real bytes before mapping it, so on a full disk New fails
// with an error matching syscall.ENOSPC; a first store into the mapping of
// a sparse file would instead kill the process with SIGBUS.
//
// Clear removes only files that have both the entry name pattern and the
// entry magic, so other files in the folder are safe, but a folder of its own
// is still the better idea.
//
// # Size
//
// The cache keeps a count of entry files in a small shared counter, updated
// when a write creates a file and when a file is removed, so that a Set need
// not list the folder. A write that would create an entry while the count is
// at the threshold (see WithThreshold) first makes room: it removes expired
// entries, then the entries that expire soonest, then never-expiring entries
// oldest first, until the count with its own entry will be 10% below the
// threshold, so one scan of the folder pays for many writes. One writer
// prunes at a time, in all the processes that share the folder; the others
// that would create an entry wait for it, within the same bound as a wait
// for a lock. Since every write that creates an entry was let in below the
// threshold, the folder never holds more than the threshold plus one entry
// per write in flight, unless pruning fails or cannot remove enough (files
// that only look like entries are counted but never removed). Scans (New, pruning, DeleteExpired, Clear) also set
// the count to what they find, when no write ran meanwhile, which corrects
// drift from outside (a file removed by hand, a process killed between a
// rename and its count).
//
// # Expiry
//
// Expiry times are kept to the nanosecond. A positive TTL below MinTTL is
// raised to MinTTL, so that an entry is never expired by the time its Set
// returns. Expired files are removed when a read comes across them, when the
// cache prunes, and by DeleteExpired, which WithJanitor can run periodically.
//
// # Platforms
//
// The cross-process locks need flock(2) and a shared memory map, so the
// cache works on Linux, macOS and the BSDs. Elsewhere New returns an error
// matching errors.ErrUnsupported.
package filecache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachelib-go/cachelib/cache"
)

// DefaultThreshold is the number of entries above which a cache prunes,
// unless WithThreshold says otherwise. It is Python cachelib's default.
const DefaultThreshold = 500

// DefaultMode is the permission of entry files unless WithMode says
// otherwise.
const DefaultMode fs.FileMode = 0o600

// DefaultLockTimeout is how long one call may wait for locks, unless
// WithLockTimeout says otherwise.
const DefaultLockTimeout = 5 * time.Second

// MinTTL is the shortest expiry the cache keeps: a positive TTL below it is
// raised to it. Longer TTLs are kept to the nanosecond.
const MinTTL = time.Millisecond

const (
	numStripes    = 64 // a power of two, so a stripe is a bit mask of the key hash
	entrySuffix   = ".fc"
	entryNameLen  = 2*sha256.Size + len(entrySuffix)
	tempPrefix    = ".fc-tmp-"
	tempNameLen   = len(tempPrefix) + 16
	lockDirName   = ".locks"
	countFileName = "count"
	// staleTemp is the age after which DeleteExpired removes a temporary
	// file: far longer than any write takes, so it only ever catches what a
	// crashed writer left behind.
	staleTemp = 5 * time.Minute
	// bufSize is the read buffer: an entry up to this size (header
	// included) is read with one read call and no allocation but the value.
	bufSize = 16 << 10
)

// ErrUnsafeFile is matched by the error from New, or from a call, that finds
// a symbolic link, a file of the wrong type, or a lock file with more than
// one link where the cache keeps its folder, its lock folder or its lock
// files. The cache never follows a symbolic link and never opens a FIFO or
// a device as one of its files.
var ErrUnsafeFile = errors.New("filecache: refusing a symbolic link, a file of the wrong type or a hard-linked lock file")

// ErrLockTimeout is matched, together with context.DeadlineExceeded, by the
// error of a call that waited the whole lock timeout (see WithLockTimeout)
// for a lock held by another goroutine or process, or for another pruner
// to make room.
var ErrLockTimeout = errors.New("filecache: lock timeout")

// errNotRegular marks an entry name that holds something other than a
// regular file: it is left alone, like a file another program wrote.
var errNotRegular = errors.New("not a regular file")

// errClosed is returned by every method after Close.
var errClosed = fmt.Errorf("filecache: %w", cache.ErrClosed)

// errNotFound is a package-level value so that a miss does not allocate.
var errNotFound = fmt.Errorf("filecache: %w", cache.ErrNotFound)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Option configures a Cache.
type Option func(*options)

type options struct {
	threshold   int
	mode        fs.FileMode
	logger      *slog.Logger
	janitor     time.Duration
	lockTimeout time.Duration
}

// WithThreshold sets the number of entries the cache may hold (default
// DefaultThreshold): a write that would create an entry beyond it first
// prunes the cache down to 90% of n. With several writers at once, in one
// process or in many, the folder holds at most n plus one entry per write
// in flight. Zero means no limit. New rejects a negative n.
func WithThreshold(n int) Option { return func(o *options) { o.threshold = n } }

// WithMode sets the permission bits of entry files (default DefaultMode).
// A mode other than the default is applied with chmod, so the umask does not
// narrow it: WithMode(0o660) lets a group of users share the folder. The
// lock files and the ".locks" folder that a cache creates get the same mode
// and the matching folder mode (0o770 for 0o660); existing ones keep
// theirs. New creates a missing cache folder with mode 0700
// regardless, so a folder shared between users is best created beforehand.
func WithMode(perm fs.FileMode) Option { return func(o *options) { o.mode = perm & fs.ModePerm } }

// WithLogger sets where damaged files and background errors are reported
// (default slog.Default(), looked up when a message is logged).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithLockTimeout bounds how long one call waits for locks that other
// goroutines or processes hold, and for another pruner to make room (default
// DefaultLockTimeout). The call's context may end the wait sooner; this
// bounds it when the context has no deadline, as when a process that holds
// a lock is stopped or hangs. A call that waited the whole timeout fails
// with an error matching ErrLockTimeout and context.DeadlineExceeded. New
// also waits at most this long for other processes opening the folder. New
// rejects a d that is not positive.
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// WithJanitor starts a goroutine that calls DeleteExpired every interval,
// until Close. Zero, the default, starts none: expired files are then
// removed only when read, pruned, or swept by an explicit DeleteExpired.
// New rejects a negative interval.
func WithJanitor(interval time.Duration) Option { return func(o *options) { o.janitor = interval } }

// Cache is a cache.Adapter that stores entries as files in a folder. It also
// implements cache.Incrementer, cache.Batcher, cache.Sweeper and
// cache.Viewer. It is safe for concurrent use by many goroutines and by many
// processes.
type Cache struct {
	dir         string
	mode        fs.FileMode
	threshold   int64
	lockTimeout time.Duration
	logger      *slog.Logger
	sh          *shared

	// life is read-locked by every method for its whole run and
	// write-locked by Close, so Close never unmaps the counter or closes a
	// lock file under an operation that uses it.
	life    sync.RWMutex
	closed  bool
	closing atomic.Bool // tells long scans to stop early

	closeOnce   sync.Once
	closeErr    error
	stopJanitor context.CancelFunc
	janitorDone chan struct{}
}

var (
	_ cache.Adapter     = (*Cache)(nil)
	_ cache.Incrementer = (*Cache)(nil)
	_ cache.Batcher     = (*Cache)(nil)
	_ cache.Sweeper     = (*Cache)(nil)
	_ cache.Viewer      = (*Cache)(nil)
)

// New returns a Cache that keeps its entries in dir, creating dir with
// permission 0700 if it does not exist. It counts the entries already there,
// which lists the folder once. A dir that is a symbolic link, or not a
// folder, gives an error matching ErrUnsafeFile: pass the folder a link
// points to instead. On a full disk New fails with an error matching
// syscall.ENOSPC.
func New(dir string, opts ...Option) (*Cache, error) {
	o := options{threshold: DefaultThreshold, mode: DefaultMode, lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.threshold < 0 {
		return nil, fmt.Errorf("filecache: negative threshold %d", o.threshold)
	}
	if o.janitor < 0 {
		return nil, fmt.Errorf("filecache: negative janitor interval %v", o.janitor)
	}
	if o.lockTimeout <= 0 {
		return nil, fmt.Errorf("filecache: lock timeout %v, want a positive duration", o.lockTimeout)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filecache: %w", err)
	}
	if err := checkFolder(abs); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, fmt.Errorf("filecache: creating folder: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	sh, err := openShared(abs, o.mode, o.lockTimeout)
	if err != nil {
		return nil, err
	}
	c := &Cache{dir: abs, mode: o.mode, threshold: int64(o.threshold), lockTimeout: o.lockTimeout, logger: o.logger, sh: sh}
	before := sh.snapshot()
	n := 0
	if err := c.scan(context.Background(), func(name string) error {
		if isEntryName(name) {
			n++
		}
		return nil
	}); err != nil {
		sh.close()
		return nil, err
	}
	sh.reconcile(before, 0, n)
	if o.janitor > 0 {
		c.startJanitor(o.janitor)
	}
	return c, nil
}

// checkFolder returns nil if path is a folder, an error matching
// ErrUnsafeFile if it is a symbolic link or another kind of file, and
// os.Lstat's error if it cannot tell. It makes the error clear; the opens
// that follow use O_NOFOLLOW, so a swap after the check is refused too.
func checkFolder(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		return fmt.Errorf("filecache: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symbolic link", ErrUnsafeFile, path)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a folder", ErrUnsafeFile, path)
	}
	return nil
}

// dirMode derives the mode of the lock folder from the file mode: whoever
// may read and write the files may also enter the folder.
func dirMode(mode fs.FileMode) fs.FileMode {
	return mode | (mode&0o444)>>2
}

func (c *Cache) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}

// enter starts a method: it read-locks life and checks Close and ctx. On
// success the caller must c.life.RUnlock. Internal helpers never call it
// again, since a second RLock behind a waiting Close would deadlock.
func (c *Cache) enter(ctx context.Context) error {
	c.life.RLock()
	if c.closed {
		c.life.RUnlock()
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		c.life.RUnlock()
		return err
	}
	return nil
}

// locate maps a key to its file and lock stripe.
func (c *Cache) locate(key string) (path string, stripe int) {
	sum := sha256.Sum256([]byte(key))
	var name [entryNameLen]byte
	hex.Encode(name[:], sum[:])
	copy(name[2*sha256.Size:], entrySuffix)
	return c.dir + string(os.PathSeparator) + string(name[:]), int(sum[0] & (numStripes - 1))
}

// isEntryName reports whether a file name has the shape locate gives.
func isEntryName(name string) bool {
	if len(name) != entryNameLen || name[2*sha256.Size:] != entrySuffix {
		return false
	}
	return isLowerHex(name[:2*sha256.Size])
}

func isTempName(name string) bool {
	return len(name) == tempNameLen && name[:len(tempPrefix)] == tempPrefix && isLowerHex(name[len(tempPrefix):])
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// stripeOf is locate's stripe for an entry name: the low bits of the first
// hash byte.
func stripeOf(name string) int {
	b, _ := strconv.ParseUint(name[:2], 16, 8)
	return int(b & (numStripes - 1))
}

// expiry turns a TTL into an absolute expiry in unix nanoseconds.
func expiry(now int64, ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	if ttl < MinTTL {
		ttl = cache.RoundTTL(ttl, MinTTL)
	}
	if e := now + int64(ttl); e > now {
		return e
	}
	return math.MaxInt64 // a TTL past year 2262 is "practically never"
}

// status classifies what load found at an entry path.
type status int

const (
	stMissing status = iota
	stLive
	stExpired
	stCorrupt // ours (starts with the magic or a prefix of it), but damaged
	stForeign // not written by this package: left alone
)

// loaded is the result of load.
type loaded struct {
	st    status
	h     header
	value []byte    // the value of a live entry, when load was asked for it
	bp    *[]byte   // the pooled buffer value aliases, if it does
	err   error     // why the file is corrupt or foreign
	f     entryFile // the file, when kept is true
	kept  bool      // f is still open: load was asked to keep an expired or corrupt file
}

// release returns the read buffer that value may alias to the pool; value
// must not be used afterwards.
func (l *loaded) release() {
	if l.bp != nil {
		bufPool.Put(l.bp)
		l.bp, l.value = nil, nil
	}
}

// valueCopy returns a copy of the value that the caller owns, and releases
// the read buffer.
func (l *loaded) valueCopy() []byte {
	if l.bp == nil {
		return l.value // already owned: loadLarge allocated it
	}
	v := make([]byte, len(l.value))
	copy(v, l.value)
	l.release()
	return v
}

// load reads and checks the entry file at path. With wantValue it returns a
// live entry's value, which may alias a pooled buffer: the caller must call
// release or valueCopy. With keep, an expired or corrupt file is returned
// still open, so that the caller can later remove exactly that file (see
// removeIfSame); the caller must close it.
//
// An entry that fits the read buffer costs one open, one read and one close.
func (c *Cache) load(path string, now int64, wantValue, keep bool) (loaded, error) {
	f, l, err := openStatus(path)
	if err != nil || l.st != stLive {
		return l, err
	}
	l, err = loadFrom(f, now, wantValue)
	if err == nil && keep && (l.st == stExpired || l.st == stCorrupt) {
		l.f, l.kept = f, true
	} else {
		f.Close()
	}
	return l, err
}

// openStatus opens the entry file at path for load and peek. It returns the
// open file and a stLive placeholder, or no file and what was found in its
// place: nothing (stMissing) or something other than a regular file
// (stForeign).
func openStatus(path string) (entryFile, loaded, error) {
	f, err := openEntry(path)
	switch {
	case err == nil:
		return f, loaded{st: stLive}, nil
	case errors.Is(err, fs.ErrNotExist):
		return f, loaded{st: stMissing}, nil
	case errors.Is(err, errNotRegular):
		return f, loaded{st: stForeign, err: err}, nil
	}
	return f, loaded{}, err
}

func loadFrom(f entryFile, now int64, wantValue bool) (loaded, error) {
	bp := bufPool.Get().(*[]byte)
	lent := false
	defer func() {
		if !lent {
			bufPool.Put(bp)
		}
	}()
	buf := *bp
	n, err := readAtLeast(f, buf, headerSize)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return loaded{}, err
	}
	h, derr := parseHeader(buf[:n])
	if derr == nil && h.expired(now) {
		return loaded{st: stExpired, h: h}, nil
	}
	var l loaded
	if derr == nil {
		if total := headerSize + h.length; total <= len(buf) {
			if n < total {
				m, err := readAtLeast(f, buf[n:total], total-n)
				n += m
				if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
					return loaded{}, err
				}
			}
			derr = checkValue(h, buf[headerSize:n])
			if derr == nil && wantValue {
				l.value, l.bp, lent = buf[headerSize:n], bp, true
			}
		} else {
			l.value, derr, err = loadLarge(f, h, buf, n, wantValue)
			if err != nil {
				return loaded{}, err
			}
		}
	}
	switch {
	case derr == nil:
		l.st, l.h = stLive, h
		return l, nil
	case errors.Is(derr, errForeign):
		return loaded{st: stForeign, err: derr}, nil
	default:
		return loaded{st: stCorrupt, err: derr}, nil
	}
}

// loadLarge reads and checks the value of an entry larger than the read
// buffer, of which buf[:n] holds the start. It checks the file's size
// before allocating, so a forged length cannot make it allocate more than
// the file holds.
func loadLarge(f entryFile, h header, buf []byte, n int, wantValue bool) (value []byte, derr, err error) {
	size, err := f.size()
	if err != nil {
		return nil, nil, err
	}
	switch {
	case size < int64(headerSize+h.length):
		return nil, errTruncated, nil
	case size > int64(headerSize+h.length):
		return nil, errTrailing, nil
	}
	head := buf[headerSize:n]
	if wantValue {
		value = make([]byte, h.length)
		k := copy(value, head)
		if _, err := readAtLeast(f, value[k:], len(value)-k); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, errTruncated, nil
			}
			return nil, nil, err
		}
		if derr := checkValue(h, value); derr != nil {
			return nil, derr, nil
		}
		return value, nil, nil
	}
	// Without a value to return, stream the rest through buf.
	sum := crc32.Update(0, castagnoli, head)
	for left := h.length - len(head); left > 0; {
		m, err := f.Read(buf[:min(left, len(buf))])
		sum = crc32.Update(sum, castagnoli, buf[:m])
		left -= m
		if err == io.EOF || (err == nil && m == 0) {
			return nil, errTruncated, nil
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if sum != h.sum {
		return nil, errPayloadSum, nil
	}
	return nil, nil, nil
}

// readAtLeast is io.ReadAtLeast for an entryFile, which as a concrete type
// saves boxing it into an io.Reader on every read.
func readAtLeast(f entryFile, buf []byte, min int) (n int, err error) {
	for n < min && err == nil {
		var m int
		m, err = f.Read(buf[n:])
		n += m
	}
	if n >= min {
		err = nil
	} else if n > 0 && err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// removeIfSame removes the entry at path if, under its stripe lock, the
// path still names the file f refers to, and closes f. Every writer renames
// under the stripe lock, and f being open keeps its inode from being reused,
// so "same file" means nobody has written the key since f was read: a fresh
// value renamed in meanwhile is never deleted.
//
// With a nil budget, as for a read, it does not wait: a stripe in use
// leaves the file for a later read or sweep.
func (c *Cache) removeIfSame(b *budget, path string, stripe int, f entryFile) (removed bool, err error) {
	defer f.Close()
	if b == nil {
		if !c.sh.tryLock(stripe) {
			return false, nil
		}
	} else if err := c.sh.lock(b, stripe); err != nil {
		return false, err
	}
	defer c.sh.unlock(stripe)
	if same, err := f.sameFile(path); err != nil || !same {
		return false, err
	}
	return c.removeLocked(path)
}

// removeLocked removes the entry at path, whose stripe lock the caller
// holds, and counts it.
func (c *Cache) removeLocked(path string) (bool, error) {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	c.sh.addCount(-1)
	return true, nil
}

// discard handles a loaded file that is not a live entry: it reports a
// damaged or foreign file and removes an expired or damaged one if its
// stripe is free: a read never waits for a lock.
func (c *Cache) discard(path string, stripe int, l loaded) {
	switch l.st {
	case stForeign:
		c.log().Warn("filecache: file in place of an entry was not written by filecache; treating it as a miss and leaving it",
			"path", path, "err", l.err)
		return
	case stCorrupt:
		c.log().Warn("filecache: removing damaged entry", "path", path, "err", l.err)
	}
	if !l.kept {
		return
	}
	if _, err := c.removeIfSame(nil, path, stripe, l.f); err != nil {
		c.log().Warn("filecache: removing entry", "path", path, "err", err)
	}
}

// get looks key up. On a hit with wantValue, the caller must release the
// loaded value (or take valueCopy).
func (c *Cache) get(key string, wantValue bool) (loaded, bool, error) {
	path, stripe := c.locate(key)
	l, err := c.load(path, time.Now().UnixNano(), wantValue, true)
	if err != nil {
		return loaded{}, false, fmt.Errorf("filecache: reading entry: %w", err)
	}
	if l.st == stLive {
		return l, true, nil
	}
	c.discard(path, stripe, l)
	return loaded{}, false, nil
}

// Get returns a copy of the value stored under key, or an error matching
// cache.ErrNotFound.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	if err := c.enter(ctx); err != nil {
		return nil, err
	}
	defer c.life.RUnlock()
	l, ok, err := c.get(key, true)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotFound
	}
	return l.valueCopy(), nil
}

// GetWithTTL returns a copy of the value stored under key and the time it
// has left to live, 0 meaning that it never expires. It implements
// cache.TTLGetter, so a cache.Chain can copy the entry into a faster layer
// without letting the copy outlive it.
func (c *Cache) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	if err := c.enter(ctx); err != nil {
		return nil, 0, err
	}
	defer c.life.RUnlock()
	l, ok, err := c.get(key, true)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, errNotFound
	}
	var exp time.Time
	if l.h.expires != 0 {
		exp = time.Unix(0, l.h.expires)
	}
	left, ok := cache.TTLLeft(exp, MinTTL)
	if !ok {
		return nil, 0, errNotFound
	}
	return l.valueCopy(), left, nil
}

// View calls fn with the value stored under key without copying it, or
// returns an error matching cache.ErrNotFound without calling fn. The slice
// is valid only until fn returns and must not be modified. View returns fn's
// error.
func (c *Cache) View(ctx context.Context, key string, fn func(value []byte) error) error {
	if err := c.enter(ctx); err != nil {
		return err
	}
	l, ok, err := c.get(key, true)
	// fn runs outside the Close guard, so that it may call the cache
	// without risking a deadlock behind a waiting Close; the slice it
	// sees belongs to this call alone.
	c.life.RUnlock()
	if err != nil {
		return err
	}
	if !ok {
		return errNotFound
	}
	defer l.release()
	return fn(l.value)
}

// Has reports whether key has an unexpired, undamaged entry: whether a Get
// would hit.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	if err := c.enter(ctx); err != nil {
		return false, err
	}
	defer c.life.RUnlock()
	_, ok, err := c.get(key, false)
	return ok, err
}

// Set stores a copy of value under key, replacing any entry. A ttl of 0
// never expires; a negative one gives cache.ErrInvalidTTL.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := c.enter(ctx); err != nil {
		return err
	}
	defer c.life.RUnlock()
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	return c.set(c.budget(ctx), key, value, ttl)
}

func (c *Cache) set(b *budget, key string, value []byte, ttl time.Duration) error {
	path, stripe := c.locate(key)
	if err := c.admit(b, path); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	// The file is written before the lock is taken: the lock only has to
	// cover the existence check and the rename.
	tmp, err := c.writeTemp(expiry(now, ttl), now, value)
	if err != nil {
		return err
	}
	if err := c.sh.lock(b, stripe); err != nil {
		os.Remove(tmp)
		return err
	}
	// Whether the rename creates the entry decides the count; it can only
	// be known under the lock, since Delete and pruning remove under it.
	existed, err := exists(path)
	if err != nil {
		c.sh.unlock(stripe)
		os.Remove(tmp)
		return fmt.Errorf("filecache: %w", err)
	}
	err = c.commitLocked(tmp, path, !existed)
	c.sh.unlock(stripe)
	return err
}

// commitLocked renames tmp over path, under path's stripe lock, and counts
// the entry if created.
func (c *Cache) commitLocked(tmp, path string, created bool) error {
	if err := rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("filecache: %w", err)
	}
	if created {
		c.sh.addCount(1)
	}
	return nil
}

// writeTemp writes a complete entry file under a fresh temporary name in
// the folder and returns that name. On failure it removes the file.
func (c *Cache) writeTemp(expires, written int64, value []byte) (string, error) {
	f, name, err := c.createTemp()
	if err != nil {
		return "", err
	}
	if headerSize+len(value) <= bufSize {
		// One write for the common small entry.
		bp := bufPool.Get().(*[]byte)
		_, err = f.Write(encode((*bp)[:0], expires, written, value))
		bufPool.Put(bp)
	} else {
		// Two writes rather than copying a large value.
		var h [headerSize]byte
		encodeHeader(&h, expires, written, value)
		if _, err = f.Write(h[:]); err == nil {
			_, err = f.Write(value)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("filecache: writing entry: %w", err)
	}
	return name, nil
}

func (c *Cache) createTemp() (entryFile, string, error) {
	for range 100 {
		var suffix [16]byte
		hexUint64(&suffix, rand.Uint64())
		name := c.dir + string(os.PathSeparator) + tempPrefix + string(suffix[:])
		f, err := createEntry(name, c.mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return f, "", fmt.Errorf("filecache: creating temporary file: %w", err)
		}
		if c.mode != DefaultMode {
			if err := f.chmod(c.mode); err != nil {
				f.Close()
				os.Remove(name)
				return f, "", fmt.Errorf("filecache: %w", err)
			}
		}
		return f, name, nil
	}
	return entryFile{}, "", errors.New("filecache: could not find a free temporary file name")
}

func hexUint64(dst *[16]byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

// Add stores value under key only if key has no unexpired entry, atomically
// across goroutines and processes, and reports whether it did.
func (c *Cache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := c.enter(ctx); err != nil {
		return false, err
	}
	defer c.life.RUnlock()
	if err := cache.CheckTTL(ttl); err != nil {
		return false, err
	}
	path, stripe := c.locate(key)
	// A lock-free look first: when the key is taken, as it is for most
	// Adds used as locks or for deduplication, no file gets written. Seeing
	// a live entry here is a valid answer on its own, since the entry was
	// live at that instant.
	if _, ok, err := c.get(key, false); err != nil || ok {
		return false, err
	}
	b := c.budget(ctx)
	if err := c.admit(b, path); err != nil {
		return false, err
	}
	now := time.Now().UnixNano()
	tmp, err := c.writeTemp(expiry(now, ttl), now, value)
	if err != nil {
		return false, err
	}
	if err := c.sh.lock(b, stripe); err != nil {
		os.Remove(tmp)
		return false, err
	}
	l, err := c.load(path, time.Now().UnixNano(), false, false)
	if err != nil || l.st == stLive {
		c.sh.unlock(stripe)
		os.Remove(tmp)
		return false, err
	}
	err = c.commitLocked(tmp, path, l.st == stMissing)
	c.sh.unlock(stripe)
	return err == nil, err
}

// Delete removes key and reports whether it had an unexpired entry.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	if err := c.enter(ctx); err != nil {
		return false, err
	}
	defer c.life.RUnlock()
	return c.delete(c.budget(ctx), key)
}

func (c *Cache) delete(b *budget, key string) (bool, error) {
	path, stripe := c.locate(key)
	if err := c.sh.lock(b, stripe); err != nil {
		return false, err
	}
	defer c.sh.unlock(stripe)
	l, err := c.load(path, time.Now().UnixNano(), false, false)
	if err != nil {
		return false, fmt.Errorf("filecache: reading entry: %w", err)
	}
	switch l.st {
	case stMissing:
		return false, nil
	case stForeign:
		c.discard(path, stripe, l)
		return false, nil
	case stCorrupt:
		c.log().Warn("filecache: removing damaged entry", "path", path, "err", l.err)
	}
	if _, err := c.removeLocked(path); err != nil {
		return false, fmt.Errorf("filecache: %w", err)
	}
	return l.st == stLive, nil
}

// Increment adds delta to the ASCII decimal integer stored under key and
// returns the result, atomically across goroutines and processes. A missing
// or expired key counts as 0 and the entry it creates never expires; an
// existing entry keeps its expiry. A value that is not an integer gives
// cache.ErrNotInteger and a result outside int64 cache.ErrOverflow; both
// leave the entry as it was.
func (c *Cache) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	if err := c.enter(ctx); err != nil {
		return 0, err
	}
	defer c.life.RUnlock()
	path, stripe := c.locate(key)
	b := c.budget(ctx)
	if err := c.admit(b, path); err != nil {
		return 0, err
	}
	if err := c.sh.lock(b, stripe); err != nil {
		return 0, err
	}
	n, err := c.incrementLocked(path, time.Now().UnixNano(), delta)
	c.sh.unlock(stripe)
	return n, err
}

func (c *Cache) incrementLocked(path string, now, delta int64) (int64, error) {
	l, err := c.load(path, now, true, false)
	if err != nil {
		return 0, fmt.Errorf("filecache: reading entry: %w", err)
	}
	var base, expires int64
	switch l.st {
	case stLive:
		base, err = cache.ParseInt(l.value)
		l.release()
		if err != nil {
			return 0, err
		}
		expires = l.h.expires
	case stCorrupt:
		c.log().Warn("filecache: replacing damaged entry", "path", path, "err", l.err)
	}
	n, err := cache.AddInt(base, delta)
	if err != nil {
		return 0, err
	}
	tmp, err := c.writeTemp(expires, now, cache.FormatInt(n))
	if err != nil {
		return 0, err
	}
	return n, c.commitLocked(tmp, path, l.st == stMissing)
}

// GetMany returns the hits among keys; misses are absent from the map.
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := c.enter(ctx); err != nil {
		return nil, err
	}
	defer c.life.RUnlock()
	hits := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, ok, err := c.get(k, true)
		if err != nil {
			return nil, err
		}
		if ok {
			hits[k] = l.valueCopy()
		}
	}
	return hits, nil
}

// SetMany stores every item with the same ttl, one file each. A negative ttl
// stores nothing. An error stops the loop and leaves the remaining items
// unset.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if err := c.enter(ctx); err != nil {
		return err
	}
	defer c.life.RUnlock()
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	b := c.budget(ctx)
	for k, v := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.set(b, k, v, ttl); err != nil {
			return err
		}
	}
	return nil
}

// DeleteMany removes keys and reports how many had unexpired entries.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if err := c.enter(ctx); err != nil {
		return 0, err
	}
	defer c.life.RUnlock()
	n := 0
	b := c.budget(ctx)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		existed, err := c.delete(b, k)
		if err != nil {
			return n, err
		}
		if existed {
			n++
		}
	}
	return n, nil
}

// Close stops the janitor, waits for it and for calls in flight, and
// releases the lock files. It is idempotent; afterwards every method returns
// an error matching cache.ErrClosed. The files stay: another Cache on the
// folder sees them.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		if c.stopJanitor != nil {
			c.stopJanitor()
			<-c.janitorDone
		}
		c.life.Lock()
		c.closed = true
		c.closeErr = c.sh.close()
		c.life.Unlock()
	})
	return c.closeErr
}

func (c *Cache) startJanitor(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	c.stopJanitor = cancel
	c.janitorDone = make(chan struct{})
	go func() {
		defer close(c.janitorDone)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := c.DeleteExpired(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, cache.ErrClosed) {
					c.log().Warn("filecache: janitor", "dir", c.dir, "err", err)
				}
			}
		}
	}()
}
