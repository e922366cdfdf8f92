//go:build unix && !solaris && !aix

// Solaris, illumos and AIX have no flock(2) in package syscall; their fcntl
// locks belong to the process rather than to the open file, which would let
// two Caches of one process on one folder bypass each other. They get the
// unsupported stub in lock_other.go instead of a subtly weaker cache.

package filecache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// shared is the state that every process using the folder sees: the stripe
// locks and the entry counter, both in the .locks subfolder.
type shared struct {
	lockDir string
	mode    fs.FileMode
	stripes [numStripes]stripe

	// countFile holds the entry count, mapped MAP_SHARED so that every
	// process updates the same 8 bytes with atomic instructions: a Set
	// that creates an entry pays one atomic add, not a locked
	// read-modify-write of a file. Its flock also elects the one process
	// that prunes at a time.
	countFile *os.File
	countMap  []byte
	count     *uint64     // see seqStep
	scanning  atomic.Bool // in-process half of the prune election
}

// stripe pairs an in-process mutex with a lock file. flock excludes other
// open file descriptions, not other goroutines sharing ours, so the mutex
// is taken first and the flock second.
type stripe struct {
	mu sync.Mutex
	f  *os.File // opened on first use and kept until close
	fd int
}

func openShared(dir string, mode fs.FileMode) (*shared, error) {
	lockDir := filepath.Join(dir, lockDirName)
	if err := os.MkdirAll(lockDir, dirMode(mode)); err != nil {
		return nil, fmt.Errorf("filecache: creating lock folder: %w", err)
	}
	s := &shared{lockDir: lockDir, mode: mode}
	s.widen(lockDir, dirMode(mode))
	f, err := s.openLockFile(countFileName)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < 8 {
		// Several processes may race to extend it; extending to the same
		// size is idempotent and never loses a count already written.
		err = f.Truncate(8)
	}
	var m []byte
	if err == nil {
		m, err = syscall.Mmap(int(f.Fd()), 0, 8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("filecache: mapping the entry counter: %w", err)
	}
	s.countFile, s.countMap = f, m
	// The mapping is page aligned, so the word is aligned for atomics.
	s.count = (*uint64)(unsafe.Pointer(&m[0]))
	return s, nil
}

func (s *shared) openLockFile(name string) (*os.File, error) {
	path := filepath.Join(s.lockDir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, s.mode)
	if err != nil {
		return nil, fmt.Errorf("filecache: opening lock file: %w", err)
	}
	s.widen(path, s.mode)
	return f, nil
}

// widen applies a mode other than the default with chmod, as for entry
// files: users sharing the folder through a group need the lock files
// writable by the group whatever the umask of the process that created
// them. A file another user created cannot be changed, and need not be:
// its creator applied the mode.
func (s *shared) widen(path string, mode fs.FileMode) {
	if s.mode != DefaultMode {
		_ = os.Chmod(path, mode)
	}
}

// lock takes stripe i for this goroutine, excluding every other goroutine
// and process that uses the folder.
func (s *shared) lock(i int) error {
	st := &s.stripes[i]
	st.mu.Lock()
	if st.f == nil {
		f, err := s.openLockFile(fmt.Sprintf("stripe-%02d", i))
		if err != nil {
			st.mu.Unlock()
			return err
		}
		st.f, st.fd = f, int(f.Fd())
	}
	if err := flock(st.fd, syscall.LOCK_EX); err != nil {
		st.mu.Unlock()
		return fmt.Errorf("filecache: locking stripe %d: %w", i, err)
	}
	return nil
}

func (s *shared) unlock(i int) {
	st := &s.stripes[i]
	// Unlocking a lock we hold on an open descriptor cannot fail in a way
	// we could act on; closing the descriptor would release it anyway.
	_ = flock(st.fd, syscall.LOCK_UN)
	st.mu.Unlock()
}

// flock retries on EINTR: the Go runtime preempts goroutines with signals,
// which interrupt a blocking flock.
func flock(fd, how int) error {
	for {
		err := syscall.Flock(fd, how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// The shared counter word holds the entry count in its low 32 bits, as a
// two's complement int32, and a change sequence in its high 32 bits. Every
// change adds seqStep, so the sequence moves by 2 (or by 1 or 3 when the
// count borrows or carries) and never stands still: a scan can tell "nothing
// changed while I ran" from "changes that cancelled out". Two billion files
// is beyond any folder this cache should be given.
const seqStep = 2 << 32

func countOf(w uint64) int64 { return int64(int32(uint32(w))) }

// addCount adds d to the count and returns the new count.
func (s *shared) addCount(d int64) int64 {
	return countOf(atomic.AddUint64(s.count, uint64(d)+seqStep))
}

func (s *shared) loadCount() int64 { return countOf(atomic.LoadUint64(s.count)) }

// snapshot returns the counter word, for reconcile.
func (s *shared) snapshot() uint64 { return atomic.LoadUint64(s.count) }

// reconcile sets the count to found, the number of entry files a scan saw,
// if since snapshot returned before the only changes were the scan's own
// removals. Under concurrent writes it leaves the count alone: writers'
// increments and decrements are exact, while a scan cannot tell which of
// the files created or removed during it it saw, so storing its result then
// would add the very drift it is meant to remove. Drift from outside (a
// file removed by hand, a process killed between a rename and its count)
// is corrected by the next scan that runs undisturbed.
func (s *shared) reconcile(before uint64, removed int, found int) bool {
	want := before + uint64(removed)*(seqStep-1) // each removal added seqStep-1
	next := (want &^ 0xffffffff) + seqStep | uint64(uint32(int32(found)))
	return atomic.CompareAndSwapUint64(s.count, want, next)
}

// storeCount sets the count, whatever happened meanwhile.
func (s *shared) storeCount(n int64) {
	for {
		w := atomic.LoadUint64(s.count)
		if atomic.CompareAndSwapUint64(s.count, w, (w&^0xffffffff)+seqStep|uint64(uint32(int32(n)))) {
			return
		}
	}
}

// tryScan elects one pruner among the goroutines and processes that use the
// folder, without waiting: a Set that loses the election leaves pruning to
// the winner instead of queueing up for a second, useless scan.
func (s *shared) tryScan() bool {
	if !s.scanning.CompareAndSwap(false, true) {
		return false
	}
	if err := flock(int(s.countFile.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		s.scanning.Store(false)
		return false
	}
	return true
}

func (s *shared) endScan() {
	_ = flock(int(s.countFile.Fd()), syscall.LOCK_UN)
	s.scanning.Store(false)
}

// close releases the lock files and the counter. The caller guarantees that
// no operation is in flight.
func (s *shared) close() error {
	var errs []error
	for i := range s.stripes {
		if f := s.stripes[i].f; f != nil {
			errs = append(errs, f.Close())
			s.stripes[i].f = nil
		}
	}
	errs = append(errs, syscall.Munmap(s.countMap), s.countFile.Close())
	s.countMap, s.count = nil, nil
	return errors.Join(errs...)
}
