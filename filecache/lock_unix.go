//go:build unix && !solaris && !aix

// Solaris, illumos and AIX have no flock(2) in package syscall; their fcntl
// locks belong to the process rather than to the open file, which would let
// two Caches of one process on one folder bypass each other. They get the
// unsupported stub in lock_other.go instead of a subtly weaker cache.

package filecache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// shared is the state that every process using the folder sees: the stripe
// locks and the entry counter, both in the .locks subfolder.
//
// Every file in the subfolder is opened relative to a descriptor of the
// subfolder itself, with O_NOFOLLOW, and must then be a regular file with a
// single link: a member of a group sharing the folder may replace any of
// them, or the subfolder, with a link to another member's file, and a
// cache that followed it would chmod that file and write into it.
type shared struct {
	lockDir int // descriptor of the .locks folder
	mode    fs.FileMode
	stripes [numStripes]stripe

	// countFile holds the entry count, mapped MAP_SHARED so that every
	// process updates the same 8 bytes with atomic instructions: a Set
	// that creates an entry pays one atomic add, not a locked
	// read-modify-write of a file. Its flock also elects the one process
	// that prunes at a time.
	countFile int
	countMap  []byte
	count     *uint64     // see seqStep
	scanning  atomic.Bool // in-process half of the prune election
}

// stripe pairs an in-process semaphore with a lock file. flock excludes
// other open file descriptions, not other goroutines sharing ours, so the
// semaphore is taken first and the flock second. The semaphore is a
// channel rather than a mutex so that a wait for it can end with the
// call's budget.
type stripe struct {
	sem chan struct{}
	fd  int // opened on first use and kept until close; -1 before
}

func openShared(dir string, mode fs.FileMode, timeout time.Duration) (*shared, error) {
	dirFd, err := openFolder(unix.AT_FDCWD, dir, dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirFd)
	created := true
	if err := ignoringEINTR(func() error { return unix.Mkdirat(dirFd, lockDirName, uint32(dirMode(mode))) }); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("filecache: creating lock folder: %w", os.NewSyscallError("mkdirat", err))
		}
		created = false
	}
	lockDir, err := openFolder(dirFd, lockDirName, filepath.Join(dir, lockDirName))
	if err != nil {
		return nil, err
	}
	if created && mode != DefaultMode {
		// As for entry files, the umask must not narrow the mode that
		// lets a group share the folder.
		_ = unix.Fchmod(lockDir, uint32(dirMode(mode)))
	}
	s := &shared{lockDir: lockDir, mode: mode, countFile: -1}
	for i := range s.stripes {
		s.stripes[i] = stripe{sem: make(chan struct{}, 1), fd: -1}
	}
	if err := s.openCount(timeout); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// openFolder opens the folder name, relative to the folder at dirFd, without
// following a symbolic link; path names it in errors.
func openFolder(dirFd int, name, path string) (int, error) {
	fd, err := openat(dirFd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err == nil {
		return fd, nil
	}
	if err := checkFolder(path); err != nil {
		return -1, err
	}
	return -1, fmt.Errorf("filecache: opening folder: %w", &fs.PathError{Op: "open", Path: path, Err: err})
}

func openat(dirFd int, name string, flag int, perm uint32) (fd int, err error) {
	err = ignoringEINTR(func() error {
		fd, err = unix.Openat(dirFd, name, flag|unix.O_CLOEXEC, perm)
		return err
	})
	return fd, err
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// openCount opens the counter, creating it if need be, and maps it.
//
// A file extended with ftruncate is sparse, and the first store into a
// mapping of a sparse file has to allocate a block: on a full disk that
// store kills the process with SIGBUS. So the counter's page is written with
// real zero bytes, and synced, before it is mapped, and a full disk is an
// error from New instead. Processes opening the folder at once take turns,
// under a flock of the lock folder, so that none writes zeros over a count
// another has already stored.
func (s *shared) openCount(timeout time.Duration) error {
	b := &budget{ctx: context.Background(), timeout: timeout}
	if err := b.poll(func() (bool, error) { return tryFlock(s.lockDir) }); err != nil {
		return fmt.Errorf("filecache: waiting for the lock folder: %w", err)
	}
	defer flock(s.lockDir, unix.LOCK_UN)
	fd, size, err := s.openLockFile(countFileName)
	if err != nil {
		return err
	}
	s.countFile = fd
	if page := int64(os.Getpagesize()); size < page {
		// Counters written by older versions are 8 bytes long: the
		// zeros go after them.
		if err := pwriteAll(fd, make([]byte, page-size), size); err != nil {
			return fmt.Errorf("filecache: allocating the entry counter: %w", err)
		}
		if err := ignoringEINTR(func() error { return unix.Fsync(fd) }); err != nil {
			return fmt.Errorf("filecache: allocating the entry counter: %w", os.NewSyscallError("fsync", err))
		}
	}
	m, err := unix.Mmap(fd, 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("filecache: mapping the entry counter: %w", os.NewSyscallError("mmap", err))
	}
	s.countMap = m
	// The mapping is page aligned, so the word is aligned for atomics.
	s.count = (*uint64)(unsafe.Pointer(&m[0]))
	return nil
}

func pwriteAll(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pwrite(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("pwrite", err)
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// openLockFile opens, or creates, the lock file name and returns its
// descriptor and size. It refuses anything but a regular file with one
// link (see shared), and applies the mode to a file it created, as for
// entry files: users sharing the folder through a group need the lock
// files writable by the group whatever the umask of the process that
// created them. A file someone else created keeps its mode.
func (s *shared) openLockFile(name string) (fd int, size int64, err error) {
	const flag = unix.O_RDWR | unix.O_NOFOLLOW | unix.O_NONBLOCK // O_NONBLOCK: a FIFO must not block the open
	created := true
	fd, err = openat(s.lockDir, name, flag|unix.O_CREAT|unix.O_EXCL, uint32(s.mode))
	if errors.Is(err, unix.EEXIST) {
		created = false
		fd, err = openat(s.lockDir, name, flag, 0)
	}
	if err != nil {
		var st unix.Stat_t
		if unix.Fstatat(s.lockDir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && !isRegular(st) {
			err = fmt.Errorf("%w: %s", ErrUnsafeFile, fileType(st))
		}
		return -1, 0, fmt.Errorf("filecache: opening lock file %s: %w", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("filecache: lock file %s: %w", name, os.NewSyscallError("fstat", err))
	}
	if !isRegular(st) || st.Nlink != 1 {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("filecache: lock file %s: %w: %s with %d links", name, ErrUnsafeFile, fileType(st), st.Nlink)
	}
	if created && s.mode != DefaultMode {
		_ = unix.Fchmod(fd, uint32(s.mode))
	}
	return fd, st.Size, nil
}

func isRegular(st unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFREG }

func fileType(st unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFDIR:
		return "a folder"
	case unix.S_IFIFO:
		return "a FIFO"
	default:
		return "a special file"
	}
}

// lock takes stripe i for this goroutine, excluding every other goroutine
// and process that uses the folder, waiting within b.
func (s *shared) lock(b *budget, i int) error {
	st := &s.stripes[i]
	if err := b.acquire(st.sem); err != nil {
		return fmt.Errorf("filecache: waiting for lock stripe %d: %w", i, err)
	}
	if err := s.openStripe(i); err != nil {
		<-st.sem
		return err
	}
	if err := b.poll(func() (bool, error) { return tryFlock(st.fd) }); err != nil {
		<-st.sem
		return fmt.Errorf("filecache: waiting for lock stripe %d: %w", i, err)
	}
	return nil
}

// tryLock takes stripe i if it is free, without waiting.
func (s *shared) tryLock(i int) bool {
	st := &s.stripes[i]
	select {
	case st.sem <- struct{}{}:
	default:
		return false
	}
	if s.openStripe(i) == nil {
		if ok, _ := tryFlock(st.fd); ok {
			return true
		}
	}
	<-st.sem
	return false
}

// openStripe opens the lock file of stripe i, whose semaphore the caller
// holds, if it is not open yet.
func (s *shared) openStripe(i int) error {
	st := &s.stripes[i]
	if st.fd >= 0 {
		return nil
	}
	fd, _, err := s.openLockFile(stripeFileName(i))
	if err != nil {
		return err
	}
	st.fd = fd
	return nil
}

func stripeFileName(i int) string { return fmt.Sprintf("stripe-%02d", i) }

func (s *shared) unlock(i int) {
	st := &s.stripes[i]
	// Unlocking a lock we hold on an open descriptor cannot fail in a way
	// we could act on; closing the descriptor would release it anyway.
	_ = flock(st.fd, unix.LOCK_UN)
	<-st.sem
}

// tryFlock takes an exclusive flock on fd if no other open file
// description has one.
func tryFlock(fd int) (bool, error) {
	switch err := flock(fd, unix.LOCK_EX|unix.LOCK_NB); err {
	case nil:
		return true, nil
	case unix.EWOULDBLOCK:
		return false, nil
	default:
		return false, os.NewSyscallError("flock", err)
	}
}

// flock retries on EINTR: the Go runtime preempts goroutines with signals.
func flock(fd, how int) error {
	return ignoringEINTR(func() error { return unix.Flock(fd, how) })
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
// folder, without waiting: a writer that loses the election waits for the
// winner's scan to make room (see admit) instead of queueing up for a
// second, useless one.
func (s *shared) tryScan() bool {
	if !s.scanning.CompareAndSwap(false, true) {
		return false
	}
	if ok, _ := tryFlock(s.countFile); !ok {
		s.scanning.Store(false)
		return false
	}
	return true
}

func (s *shared) endScan() {
	_ = flock(s.countFile, unix.LOCK_UN)
	s.scanning.Store(false)
}

// close releases the lock files and the counter. The caller guarantees that
// no operation is in flight.
func (s *shared) close() error {
	var errs []error
	closeFd := func(fd *int) {
		if *fd >= 0 {
			errs = append(errs, os.NewSyscallError("close", unix.Close(*fd)))
			*fd = -1
		}
	}
	for i := range s.stripes {
		closeFd(&s.stripes[i].fd)
	}
	if s.countMap != nil {
		errs = append(errs, os.NewSyscallError("munmap", unix.Munmap(s.countMap)))
		s.countMap, s.count = nil, nil
	}
	closeFd(&s.countFile)
	closeFd(&s.lockDir)
	return errors.Join(errs...)
}
