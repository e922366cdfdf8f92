//go:build !unix || solaris || aix

package filecache

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"time"
)

// errUnsupported is what New returns where the cross-process locks are not
// implemented. A cache that silently lost Add's atomicity between processes
// would be worse than none.
var errUnsupported = fmt.Errorf("filecache: not supported on %s: it needs flock(2) and a shared memory map to stay correct across processes: %w",
	runtime.GOOS, errors.ErrUnsupported)

type shared struct{}

func openShared(string, fs.FileMode, time.Duration) (*shared, error) { return nil, errUnsupported }

func (*shared) lock(*budget, int) error         { return errUnsupported }
func (*shared) tryLock(int) bool                { return false }
func (*shared) unlock(int)                      {}
func (*shared) addCount(int64) int64            { return 0 }
func (*shared) loadCount() int64                { return 0 }
func (*shared) storeCount(int64)                {}
func (*shared) snapshot() uint64                { return 0 }
func (*shared) reconcile(uint64, int, int) bool { return false }
func (*shared) tryScan() bool                   { return false }
func (*shared) endScan()                        {}
func (*shared) close() error                    { return nil }
