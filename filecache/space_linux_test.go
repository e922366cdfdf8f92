package filecache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"testing"

	"github.com/cachelib-go/cachelib/internal/testenv"
)

// smallFS mounts a tmpfs of size bytes on a fresh folder until the test
// ends. Mounting needs root (CAP_SYS_ADMIN): elsewhere the test is skipped,
// except in CI, where it must run.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if testenv.InCI() {
			t.Fatalf("mounting a %s tmpfs: %v", size, err)
		}
		t.Skipf("skipped: mounting a %s tmpfs on %s needs root (CAP_SYS_ADMIN): %v", size, dir, err)
	}
	// Registered after TempDir's, so it runs before the folder is removed.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes to a new file at path until the filesystem is full, and
// returns a function that removes it again.
func fill(t *testing.T, path string) (free func()) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{1}, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// newNoFault is New, with a memory fault (SIGBUS from a file mapping with
// no space behind it) turned into a test failure instead of a crash.
func newNoFault(t *testing.T, dir string, opts ...Option) (c *Cache, err error) {
	t.Helper()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("New faulted: %v", r)
		}
	}()
	return New(dir, opts...)
}

// TestFullDisk opens a cache on a filesystem with no space left: New must
// fail with ENOSPC, not kill the process with SIGBUS on its first write to
// the shared counter, and writes on a full disk fail the same way.
func TestFullDisk(t *testing.T) {
	mnt := smallFS(t, "256k")
	dir := filepath.Join(mnt, "cache")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	free := fill(t, filepath.Join(mnt, "filler"))
	c, err := newNoFault(t, dir)
	if err == nil {
		c.Close()
		t.Fatal("New on a full disk succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("New on a full disk: %v, want an error matching ENOSPC", err)
	}

	free()
	c, err = newNoFault(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Set(t.Context(), "before", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	fill(t, filepath.Join(mnt, "filler"))
	if err := c.Set(t.Context(), "k", bytes.Repeat([]byte{2}, 8192), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Set on a full disk: %v, want an error matching ENOSPC", err)
	}
	wantGet(t, c, "before", "v")
	wantNoTemp(t, dir)
	// Another cache on the folder maps the counter that is already there.
	c2, err := newNoFault(t, dir)
	if err != nil {
		t.Fatalf("New on a full disk, with the counter in place: %v", err)
	}
	defer c2.Close()
	wantGet(t, c2, "before", "v")
}
