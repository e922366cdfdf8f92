package sqlcache

import (
	"database/sql"
	"net/url"
	"time"

	"github.com/cachelib-go/cachelib/internal/urlparam"
)

// DB returns the database of c, for tests of the databases cache.Open
// opens.
func DB(c *Cache) *sql.DB { return c.db }

// DriverFor returns the driver cache.Open uses for scheme when the drivers
// registered are these.
func DriverFor(scheme string, registered []string) (string, error) {
	return driverFor(schemes[scheme], registered)
}

// DSN returns the data source name that cache.Open gives driver for
// rawURL, for drivers the tests do not link.
func DSN(rawURL, driver string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	return schemes[u.Scheme].dsn(u, urlparam.New(u), driver)
}

// Timeout returns the per-call timeout of c.
func Timeout(c *Cache) time.Duration { return c.timeout }
