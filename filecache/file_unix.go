//go:build unix

package filecache

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Entry files are opened with plain system calls rather than os.Open. For a
// regular file os.Open still sets up non-blocking mode and tries the
// network poller, three system calls that cannot succeed and that cost a
// Get about a quarter of its time.

// entryFile is an open entry or temporary file.
type entryFile struct{ fd int }

// openEntry opens the entry file at path for reading. Anything but a regular
// file gives errNotRegular: a symbolic link is not followed (O_NOFOLLOW),
// and a FIFO, which a plain open would wait on for a writer forever, is
// opened without blocking (O_NONBLOCK) and then refused. The fstat that
// checks the type costs a Get little next to its open and read.
func openEntry(path string) (entryFile, error) {
	f, err := openFile(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		// O_NOFOLLOW fails on a symbolic link with ELOOP, EMLINK or EFTYPE
		// depending on the system: ask the file itself what it is.
		var st syscall.Stat_t
		if !errors.Is(err, fs.ErrNotExist) && syscall.Lstat(path, &st) == nil && st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			err = &fs.PathError{Op: "open", Path: path, Err: errNotRegular}
		}
		return f, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		f.Close()
		return entryFile{-1}, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		f.Close()
		return entryFile{-1}, &fs.PathError{Op: "open", Path: path, Err: errNotRegular}
	}
	return f, nil
}

// openFolderNoFollow opens the folder at path for listing, unless it is a
// symbolic link.
func openFolderNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
}

// createEntry creates a file that must not exist yet, with permission mode
// less the umask. O_EXCL already refuses to follow a symbolic link; the
// O_NOFOLLOW says so.
func createEntry(path string, mode fs.FileMode) (entryFile, error) {
	return openFile(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW, uint32(mode.Perm()))
}

func openFile(path string, flag int, perm uint32) (entryFile, error) {
	for {
		fd, err := syscall.Open(path, flag|syscall.O_CLOEXEC, perm)
		if err == nil {
			return entryFile{fd}, nil
		}
		if err != syscall.EINTR {
			return entryFile{-1}, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// Read follows io.Reader: 0 bytes read is io.EOF.
func (f entryFile) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(f.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f entryFile) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := syscall.Write(f.fd, p[written:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return written, os.NewSyscallError("write", err)
		}
		written += n
	}
	return written, nil
}

func (f entryFile) Close() error { return syscall.Close(f.fd) }

func (f entryFile) chmod(mode fs.FileMode) error {
	return syscall.Fchmod(f.fd, uint32(mode.Perm()))
}

func (f entryFile) size() (int64, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

// sameFile reports whether path names the file f has open.
func (f entryFile) sameFile(path string) (bool, error) {
	var open, cur syscall.Stat_t
	if err := syscall.Fstat(f.fd, &open); err != nil {
		return false, err
	}
	if err := syscall.Lstat(path, &cur); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return open.Dev == cur.Dev && open.Ino == cur.Ino, nil
}

// exists reports whether something is at path, without the allocations of
// os.Lstat.
func exists(path string) (bool, error) {
	var st syscall.Stat_t
	err := syscall.Lstat(path, &st)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, &fs.PathError{Op: "lstat", Path: path, Err: err}
}

// rename is rename(2) without the extra lstat that os.Rename makes to
// refuse replacing a folder, which rename(2) refuses by itself.
func rename(from, to string) error {
	for {
		err := syscall.Rename(from, to)
		if err == nil {
			return nil
		}
		if err != syscall.EINTR {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
		}
	}
}
