package filecache

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

func TestOpenConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Adapter { return cachetest.Open(t, "file://"+t.TempDir()) })
}

// The URL's folder and parameters are the folder and options of the Cache.
func TestOpenOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	a := cachetest.Open(t, "file://"+dir+"?threshold=10&mode=0640&janitor=1h&lock_timeout=250ms")
	c, ok := a.(*Cache)
	if !ok {
		t.Fatalf("file:// opened a %T", a)
	}
	if c.dir != dir || c.threshold != 10 || c.mode != 0o640 || c.stopJanitor == nil || c.lockTimeout != 250*time.Millisecond {
		t.Errorf("opened dir %q threshold %d mode %o janitor %v lock timeout %v", c.dir, c.threshold, c.mode, c.stopJanitor != nil, c.lockTimeout)
	}
	if err := a.Set(t.Context(), "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*.fc")); len(names) != 1 {
		t.Errorf("entry files in %s: %v", dir, names)
	}

	// A relative folder is the opaque form file:rel, relative to the
	// working directory.
	t.Chdir(t.TempDir())
	if err := cachetest.Open(t, "file:rel/folder").Set(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("rel", "folder")); err != nil {
		t.Errorf("file:rel/folder: %v", err)
	}
	// Its %XX escapes are read as in the path of file:///abs/path.
	if err := cachetest.Open(t, "file:my%20folder").Set(t.Context(), "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("my folder"); err != nil {
		t.Errorf("file:my%%20folder: %v", err)
	}
}

func TestOpenBadURLs(t *testing.T) {
	cachetest.BadURLs(t, map[string]string{
		"file://server/share":          `host "server": the folder must be local`,
		"file://":                      "without a folder",
		"file:///tmp/x?mode=999":       `mode="999": want permission bits in octal`,
		"file:///tmp/x?threshold=-":    `threshold="-": want an integer of at least 0`,
		"file:///tmp/x?janitor=5":      `janitor="5": want a duration such as`,
		"file:///tmp/x?lock_timeout=0": `lock_timeout=0: want a positive duration`,
		"file:///tmp/x?treshold=5":     "unknown parameter treshold (this scheme accepts parameters janitor, lock_timeout, mode, threshold)",
		"file://u:s3cret@/tmp/x":       "a file URL takes no user or password: file permissions decide who may use the folder (see mode)",
		"file://s3cret@localhost/tmp":  "a file URL takes no user or password",
		"file:///tmp/x#s3cret":         "a fragment (#...) is not part of a file URL",
		"file:rel#s3cret":              "a fragment (#...) is not part of a file URL",
		"file:rel%zz":                  `path "rel%zz": invalid URL escape`,
	})
}
