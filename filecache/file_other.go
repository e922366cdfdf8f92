//go:build !unix

package filecache

import (
	"errors"
	"io/fs"
	"os"
)

// entryFile is an open entry or temporary file. Off unix New fails, so this
// version only has to compile and be correct, not fast.
type entryFile struct{ f *os.File }

func openEntry(path string) (entryFile, error) {
	fi, err := os.Lstat(path)
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: path, Err: errNotRegular}
	}
	if err != nil {
		return entryFile{}, err
	}
	f, err := os.Open(path)
	return entryFile{f}, err
}

func openFolderNoFollow(path string) (*os.File, error) { return os.Open(path) }

func createEntry(path string, mode fs.FileMode) (entryFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	return entryFile{f}, err
}

func (f entryFile) Read(p []byte) (int, error)   { return f.f.Read(p) }
func (f entryFile) Write(p []byte) (int, error)  { return f.f.Write(p) }
func (f entryFile) Close() error                 { return f.f.Close() }
func (f entryFile) chmod(mode fs.FileMode) error { return f.f.Chmod(mode) }

func (f entryFile) size() (int64, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (f entryFile) sameFile(path string) (bool, error) {
	open, err := f.f.Stat()
	if err != nil {
		return false, err
	}
	cur, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(open, cur), nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

func rename(from, to string) error { return os.Rename(from, to) }
