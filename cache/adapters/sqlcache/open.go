package sqlcache

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/urlparam"
)

// Importing the package registers these schemes with cache.Open:
//
//	postgres://[user:password@]host[:port][/dbname][?param=value&...]  (or postgresql://)
//	mysql://[user:password@]host[:port]/dbname[?param=value&...]
//	mysql://[user:password@]/dbname?socket=/path/to/mysqld.sock[&...]
//	sqlite:///absolute/path/cache.db[?param=value&...]
//	sqlite:relative/path/cache.db[?param=value&...]
//
// Four parameters belong to this package: table is WithTable, prefix is
// WithPrefix, create_table=false is WithoutCreateTable, and timeout (such
// as 500ms) is WithTimeout; for mysql it takes the place of
// go-sql-driver/mysql's timeout of connecting, which it bounds too. For
// mysql, socket names a Unix socket to connect through instead of a host. Every
// other parameter is the driver's, passed on in its data source name, and
// one that neither the driver nor the server knows is their error (pgx and
// go-sql-driver/mysql send parameters they do not know to the server as
// settings, and the server refuses a setting it does not have). SQLite's
// drivers ignore what they do not know, so a sqlite URL takes only the
// drivers' parameters, which start with '_', and SQLite's own URI
// parameters (mode, cache, immutable, nolock, psow, modeof, vfs). A value
// the driver cannot read gives an error wrapping cache.ErrInvalidURL when
// the driver reads its data source name in sql.Open (go-sql-driver/mysql),
// and otherwise the driver's error when Open connects (pgx,
// modernc.org/sqlite).
//
// The package imports no driver: the program imports the one it wants, and
// Open uses the first of these that is registered with database/sql, or
// fails naming the import it needs.
//
//   - postgres: "pgx" (github.com/jackc/pgx/v5/stdlib), else "postgres"
//     (github.com/lib/pq). Both read the URL, without this package's
//     parameters, as their data source name.
//   - mysql: "mysql" (github.com/go-sql-driver/mysql), given
//     user:password@tcp(host:port)/dbname?param=value (unix(path) for a
//     socket). Add needs the driver's default clientFoundRows=false, so
//     clientFoundRows=true is refused.
//   - sqlite: "sqlite" (modernc.org/sqlite), else "sqlite3"
//     (github.com/mattn/go-sqlite3), given file:path?param=value. The
//     database has a single connection (see the package documentation),
//     and unless the URL sets them, a busy timeout of 5 s and the WAL
//     journal:
//     modernc.org/sqlite gets _pragma=busy_timeout(5000) and
//     _pragma=journal_mode(WAL), mattn/go-sqlite3 gets _journal_mode=WAL
//     (its busy timeout is 5 s by default). A URL sets them with a _pragma
//     of busy_timeout or journal_mode, or with the drivers' _busy_timeout,
//     _timeout, _journal_mode or _journal.
//
// The scheme names the dialect. Open connects within ctx, since New creates
// the table and prepares its statements, and the *sql.DB it opened belongs
// to the adapter: Close closes it after the prepared statements.
func init() {
	for name := range schemes {
		cache.Register(name, open)
	}
}

// A scheme is what Open needs to know about the databases of one URL
// scheme.
type scheme struct {
	dialect Dialect
	// drivers are the database/sql driver names that serve the scheme,
	// preferred first; imports is what to import when none is registered.
	drivers []string
	imports string
	// dsn returns the data source name that driver reads for u, taking
	// out of p any parameter of its own.
	dsn func(u *url.URL, p *urlparam.Params, driver string) (string, error)
}

var postgresScheme = scheme{Postgres, []string{"pgx", "postgres"},
	`_ "github.com/jackc/pgx/v5/stdlib" (or _ "github.com/lib/pq")`, postgresDSN}

var schemes = map[string]scheme{
	"postgres":   postgresScheme,
	"postgresql": postgresScheme,
	"mysql":      {MySQL, []string{"mysql"}, `_ "github.com/go-sql-driver/mysql"`, mysqlDSN},
	"sqlite": {SQLite, []string{"sqlite", "sqlite3"},
		`_ "modernc.org/sqlite" (or _ "github.com/mattn/go-sqlite3")`, sqliteDSN},
}

func open(ctx context.Context, u *url.URL) (cache.Adapter, error) {
	s := schemes[strings.ToLower(u.Scheme)]
	p := urlparam.New(u)
	opts := []Option{WithDialect(s.dialect)}
	if table := p.String("table", ""); table != "" {
		opts = append(opts, WithTable(table))
	}
	if prefix := p.String("prefix", ""); prefix != "" {
		opts = append(opts, WithPrefix(prefix))
	}
	if !p.Bool("create_table", true) {
		opts = append(opts, WithoutCreateTable())
	}
	opts = append(opts, WithTimeout(p.Timeout(calltimeout.Default)))
	if _, err := newConfig(opts); err != nil {
		return nil, fmt.Errorf("%w: %w", cache.ErrInvalidURL, err)
	}
	driver, err := driverFor(s, sql.Drivers())
	if err != nil {
		return nil, err
	}
	dsn, err := s.dsn(u, p, driver)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		// A driver that reads the data source name here
		// (go-sql-driver/mysql) reports what it cannot use.
		return nil, fmt.Errorf("%w: %w", cache.ErrInvalidURL, err)
	}
	if s.dialect == SQLite {
		db.SetMaxOpenConns(1)
	}
	c, err := New(ctx, db, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	c.ownsDB = true
	return c, nil
}

// driverFor returns the first driver of s among the registered ones.
func driverFor(s scheme, registered []string) (string, error) {
	for _, d := range s.drivers {
		if slices.Contains(registered, d) {
			return d, nil
		}
	}
	return "", urlparam.Errorf("no %v driver is registered with database/sql: import %s", s.dialect, s.imports)
}

func postgresDSN(u *url.URL, p *urlparam.Params, _ string) (string, error) {
	if err := p.Err(); err != nil {
		return "", err
	}
	if u.Opaque != "" {
		return "", urlparam.Errorf("want %s://user:password@host:port/dbname", u.Scheme)
	}
	d := *u
	d.Scheme, d.RawQuery = strings.ToLower(u.Scheme), p.Rest()
	return d.String(), nil
}

func mysqlDSN(u *url.URL, p *urlparam.Params, _ string) (string, error) {
	socket := p.String("socket", "")
	if err := p.Err(); err != nil {
		return "", err
	}
	const want = "want mysql://user:password@host:port/dbname or mysql://user:password@/dbname?socket=/path/to/mysqld.sock"
	dbname := strings.TrimPrefix(u.Path, "/")
	switch {
	case u.Opaque != "":
		return "", urlparam.Errorf("%s", want)
	case dbname == "" || strings.Contains(dbname, "/"):
		return "", urlparam.Errorf("path %q is not a database name: %s", u.Path, want)
	case u.Host != "" && socket != "":
		return "", urlparam.Errorf("a host and a socket: give one of them")
	case u.Host == "" && socket == "":
		return "", urlparam.Errorf("no host: %s", want)
	}
	q := p.Unread()
	if v := q.Get("clientFoundRows"); v != "" {
		if found, err := strconv.ParseBool(v); err != nil || found {
			return "", urlparam.Errorf("parameter clientFoundRows=%q: Add needs the default, false", v)
		}
	}
	var b strings.Builder
	if u.User != nil {
		b.WriteString(u.User.Username())
		if pw, ok := u.User.Password(); ok {
			b.WriteString(":" + pw)
		}
		b.WriteString("@")
	}
	switch {
	case socket != "":
		b.WriteString("unix(" + socket + ")")
	case u.Port() == "":
		// The driver would append its default port to "[::1]" as is.
		b.WriteString("tcp(" + net.JoinHostPort(u.Hostname(), "3306") + ")")
	default:
		b.WriteString("tcp(" + u.Host + ")")
	}
	b.WriteString("/" + dbname)
	if len(q) > 0 {
		b.WriteString("?" + q.Encode())
	}
	return b.String(), nil
}

// sqliteURIParams are the parameters SQLite itself reads from a file: URI.
// The drivers' start with '_'; both drivers ignore any other parameter,
// which is therefore refused.
var sqliteURIParams = []string{"cache", "immutable", "mode", "modeof", "nolock", "psow", "vfs"}

func sqliteDSN(u *url.URL, p *urlparam.Params, driver string) (string, error) {
	if err := p.Err(); err != nil {
		return "", err
	}
	path := u.Path
	if u.Opaque != "" {
		var err error
		if path, err = url.PathUnescape(u.Opaque); err != nil {
			return "", urlparam.Errorf("path %q: %v", u.Opaque, err)
		}
	}
	switch {
	case u.Host != "" && u.Host != "localhost":
		return "", urlparam.Errorf("sqlite URL with host %q: the database file must be local (sqlite:///abs/path.db or sqlite:rel/path.db)", u.Host)
	case path == "" || path == "/":
		return "", urlparam.Errorf("sqlite URL without a database file (sqlite:///abs/path.db or sqlite:rel/path.db)")
	}
	q := p.Unread()
	var unknown []string
	for k := range q {
		if !strings.HasPrefix(k, "_") && !slices.Contains(sqliteURIParams, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return "", urlparam.Errorf("unknown parameter %s (sqlite URLs take table, prefix, create_table, timeout, SQLite's URI parameters %s, and the driver's, which start with _)",
			strings.Join(unknown, ", "), strings.Join(sqliteURIParams, ", "))
	}
	if !setsPragma(q, "busy_timeout", "_busy_timeout", "_timeout") && driver == "sqlite" {
		q.Add("_pragma", "busy_timeout(5000)") // mattn/go-sqlite3 waits 5 s by default
	}
	if !setsPragma(q, "journal_mode", "_journal_mode", "_journal") {
		if driver == "sqlite" {
			q.Add("_pragma", "journal_mode(WAL)")
		} else {
			q.Set("_journal_mode", "WAL")
		}
	}
	// SQLite decodes %XX in the path of a file: URI, so a path holding
	// '?', '#' or '%' stays the path.
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode(), nil
}

// setsPragma reports whether q sets the PRAGMA name, with a _pragma
// parameter or with one of the drivers' shorthand keys.
func setsPragma(q url.Values, name string, keys ...string) bool {
	for _, k := range keys {
		if _, ok := q[k]; ok {
			return true
		}
	}
	return slices.ContainsFunc(q["_pragma"], func(v string) bool {
		return strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), name)
	})
}
