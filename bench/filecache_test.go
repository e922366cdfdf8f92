package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cachelib-go/cachelib/filecache"
)

// filecache is compared with the plain file operations that give the same
// guarantees: os.ReadFile of a file of the same size for Get, and a
// temporary file renamed into place for Set. The difference is what the
// cache adds: hashing the key, the header and its checksums, the lock
// stripe and the entry count.

const (
	fileKeys  = 1024
	fileValue = 100
	// fileEntrySize is the size of a filecache entry file holding a
	// fileValue-byte value (a 40-byte header, then the value), so the raw
	// benchmarks move the same number of bytes.
	fileEntrySize = 40 + fileValue
	// fileThreshold is above the working set, so no result is shaped by
	// pruning.
	fileThreshold = 4 * fileKeys
)

var (
	fileBenchKeys = func() []string {
		keys := make([]string, fileKeys)
		for i := range keys {
			keys[i] = fmt.Sprintf("bench:key:%d", i)
		}
		return keys
	}()
	fileBenchValue = make([]byte, fileValue)
	fileSink       []byte
)

func newFilecache(b *testing.B) *filecache.Cache {
	b.Helper()
	c, err := filecache.New(b.TempDir(), filecache.WithThreshold(fileThreshold))
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	for _, k := range fileBenchKeys {
		if err := c.Set(ctx, k, fileBenchValue, 0); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// rawFiles writes one fileEntrySize-byte file per key and returns their
// paths. The names are as long as the cache's (64 characters and a
// suffix), so that both folders have the same shape: on ext4, creating a
// file in a folder of long names costs measurably more.
func rawFiles(b *testing.B) (dir string, paths []string) {
	b.Helper()
	dir = b.TempDir()
	content := make([]byte, fileEntrySize)
	paths = make([]string, fileKeys)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("%064x.fc", i))
		if err := os.WriteFile(paths[i], content, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir, paths
}

func BenchmarkFileGet(b *testing.B) {
	ctx := context.Background()
	b.Run("filecache", func(b *testing.B) {
		c := newFilecache(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := c.Get(ctx, fileBenchKeys[i%fileKeys])
			if err != nil {
				b.Fatal(err)
			}
			fileSink = v
		}
	})
	b.Run("filecache-view", func(b *testing.B) {
		c := newFilecache(b)
		n := 0
		count := func(v []byte) error { n += len(v); return nil }
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := c.View(ctx, fileBenchKeys[i%fileKeys], count); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		_, paths := rawFiles(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := os.ReadFile(paths[i%fileKeys])
			if err != nil {
				b.Fatal(err)
			}
			fileSink = v
		}
	})
}

// BenchmarkFileSet overwrites existing keys, the steady state of a cache.
func BenchmarkFileSet(b *testing.B) {
	ctx := context.Background()
	b.Run("filecache", func(b *testing.B) {
		c := newFilecache(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := c.Set(ctx, fileBenchKeys[i%fileKeys], fileBenchValue, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		dir, paths := rawFiles(b)
		content := make([]byte, fileEntrySize)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			f, err := os.CreateTemp(dir, ".tmp-*")
			if err != nil {
				b.Fatal(err)
			}
			_, err = f.Write(content)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(f.Name(), paths[i%fileKeys])
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
