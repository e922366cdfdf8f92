package filecache

import (
	"context"
	"io/fs"
	"net/url"
	"strconv"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/urlparam"
)

// Importing the package registers the scheme "file" with cache.Open:
//
//	file:///var/cache/app?threshold=1000&mode=0660&janitor=5m&lock_timeout=2s
//	file:relative/folder
//
// opens a Cache in the folder the URL names (an absolute path after
// "file://", or a relative one as "file:path"; a host other than localhost
// is an error, since the folder must be local). The parameters are the
// options: threshold is WithThreshold (0 for no limit), mode is WithMode in
// octal, janitor is WithJanitor as a duration such as "5m" (0, the default, for
// none), and lock_timeout is WithLockTimeout as a duration (default
// DefaultLockTimeout).
func init() { cache.Register("file", open) }

func open(_ context.Context, u *url.URL) (cache.Adapter, error) {
	dir := u.Path
	switch {
	case u.Opaque != "":
		// An opaque path keeps its escapes; "file:my%20dir" means what
		// "file:///abs/my%20dir" means.
		var err error
		if dir, err = url.PathUnescape(u.Opaque); err != nil {
			return nil, urlparam.Errorf("path %q: %v", u.Opaque, err)
		}
	case u.Host != "" && u.Host != "localhost":
		return nil, urlparam.Errorf("file URL with host %q: the folder must be local (file:///abs/path or file:rel/path)", u.Host)
	}
	if err := urlparam.NoUser(u, "file permissions decide who may use the folder (see mode)"); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, urlparam.Errorf("file URL without a folder (file:///abs/path or file:rel/path)")
	}
	p := urlparam.New(u)
	lockTimeout := p.Duration("lock_timeout", DefaultLockTimeout)
	if lockTimeout == 0 {
		return nil, urlparam.Errorf(`parameter lock_timeout=0: want a positive duration such as "2s"`)
	}
	opts := []Option{
		WithThreshold(p.Int("threshold", DefaultThreshold, 0)),
		WithJanitor(p.Duration("janitor", 0)),
		WithLockTimeout(lockTimeout),
	}
	if m := p.String("mode", ""); m != "" {
		perm, err := strconv.ParseUint(m, 8, 32)
		if err != nil || perm > 0o777 {
			return nil, urlparam.Errorf("parameter mode=%q: want permission bits in octal, such as 0600", m)
		}
		opts = append(opts, WithMode(fs.FileMode(perm)))
	}
	if err := p.Done(); err != nil {
		return nil, err
	}
	return New(dir, opts...)
}
