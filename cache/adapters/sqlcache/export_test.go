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
	d, err := driverFor(schemes[scheme], registered)
	return d.name, err
}

// driver returns the driver of s named name.
func (s scheme) driver(name string) sqlDriver {
	for _, d := range s.drivers {
		if d.name == name {
			return d
		}
	}
	panic("no driver " + name)
}

// DSN returns the data source name that cache.Open gives driver for
// rawURL, for drivers the tests do not link.
func DSN(rawURL, driver string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	s := schemes[u.Scheme]
	return s.dsn(u, urlparam.New(u), s.driver(driver))
}

// Timeout returns the per-call timeout of c.
func Timeout(c *Cache) time.Duration { return c.timeout }

// DriverParams returns the parameters that sqlcache knows driver of scheme
// to read itself.
func DriverParams(scheme, driver string) []string { return schemes[scheme].driver(driver).params }

// Settings returns the server settings that URLs of scheme may carry.
func Settings(scheme string) []string { return schemes[scheme].settings }

// MySQLOnly are the variables of Settings("mysql") that MariaDB lacks.
var MySQLOnly = mysqlOnlyVariables
