package sqlcache

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
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
// other parameter is passed on in the driver's data source name, and must
// be one the chosen driver reads itself or, for PostgreSQL and MySQL, a
// setting of the server: the drivers send every parameter they do not know
// to the server, which would refuse a wrong one only once connected, so a
// parameter that is neither is an error (wrapping cache.ErrInvalidURL)
// before anything connects. The lists are in open_params.go: the
// parameters of pgx v5, lib/pq, go-sql-driver/mysql v1.10, modernc.org/sqlite
// v1.62 and mattn/go-sqlite3 v1.14; the settings a session of PostgreSQL 15
// may set (any case; a name with a dot is a custom setting, and options is
// passed as it is, for the server to read); the session variables of
// MariaDB 10.11 and MySQL 8 (any case). SQLite's own URI parameters (mode,
// cache, immutable, nolock, psow, modeof, vfs) are checked too, since
// SQLite ignores what it does not know. A value the driver cannot read
// is an invalid URL found before Open connects: the driver reads the data
// source name as it does to connect but is stopped before it dials (for
// SQLite, it opens an in-memory database instead of the file, and each
// _pragma must name a pragma SQLite knows). The value of a server setting
// is for the server to judge, since what it accepts depends on its version;
// one it refuses when Open connects gives an error wrapping
// cache.ErrInvalidURL too, with the server's message. A user part in a
// sqlite URL, and a fragment in any, are errors.
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
	// drivers are the database/sql drivers that serve the scheme,
	// preferred first.
	drivers []sqlDriver
	// own are the parameters the dsn function reads besides table,
	// prefix and create_table; also says what they are in an error.
	own  []string
	also string
	// settings are the server's settings a URL may pass on, in lower
	// case (servers read their names in any case); hint says what they
	// are in an error.
	settings []string
	hint     string
	// dsn returns the data source name that d reads for u, taking out
	// of p any parameter of its own.
	dsn func(u *url.URL, p *urlparam.Params, d sqlDriver) (string, error)
	// check has the driver of db read dsn, and reports what it cannot
	// use, without connecting to the database.
	check func(ctx context.Context, db *sql.DB, d sqlDriver, dsn string) error
	// refused reports whether err, met while connecting, is the server
	// refusing a setting that the URL passed on.
	refused func(err error) bool
}

// An sqlDriver is a database/sql driver Open can use.
type sqlDriver struct {
	name  string // as registered with database/sql
	pkg   string // the package whose import registers it
	label string // how errors name it
	// params are the parameters the driver reads itself.
	params []string
}

var postgresScheme = scheme{
	dialect: Postgres,
	drivers: []sqlDriver{
		{"pgx", "github.com/jackc/pgx/v5/stdlib", "pgx", pgxParams},
		{"postgres", "github.com/lib/pq", "lib/pq", libpqParams},
	},
	settings: postgresSettings,
	hint:     "PostgreSQL's settings (application_name, search_path, statement_timeout, ...; a name with a dot is a custom setting)",
	dsn:      postgresDSN, check: readDSN, refused: postgresRefused,
}

var schemes = map[string]scheme{
	"postgres":   postgresScheme,
	"postgresql": postgresScheme,
	"mysql": {
		dialect:  MySQL,
		drivers:  []sqlDriver{{"mysql", "github.com/go-sql-driver/mysql", "go-sql-driver/mysql", mysqlParams}},
		own:      []string{"socket"},
		also:     "socket",
		settings: mysqlVariables,
		hint:     "MySQL's session variables (sql_mode, time_zone, wait_timeout, ...)",
		dsn:      mysqlDSN, check: readDSN, refused: mysqlRefused,
	},
	"sqlite": {
		dialect: SQLite,
		drivers: []sqlDriver{
			{"sqlite", "modernc.org/sqlite", "modernc.org/sqlite", moderncParams},
			{"sqlite3", "github.com/mattn/go-sqlite3", "mattn/go-sqlite3", mattnParams},
		},
		own:  sqliteURIParams,
		also: "SQLite's URI parameters (" + strings.Join(sqliteURIParams, ", ") + ")",
		dsn:  sqliteDSN, check: checkSQLite, refused: func(error) bool { return false },
	},
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
	d, err := driverFor(s, sql.Drivers())
	if err != nil {
		return nil, err
	}
	if err := p.Single("_pragma"); err != nil {
		return nil, err
	}
	if err := s.checkParams(p.Unread(), d); err != nil {
		return nil, err
	}
	dsn, err := s.dsn(u, p, d)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(d.name, dsn)
	if err != nil {
		// A driver that reads the data source name here
		// (go-sql-driver/mysql) reports what it cannot use.
		return nil, fmt.Errorf("%w: %w", cache.ErrInvalidURL, err)
	}
	if err := s.check(ctx, db, d, dsn); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %w", cache.ErrInvalidURL, d.label, err)
	}
	if s.dialect == SQLite {
		db.SetMaxOpenConns(1)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if s.refused(err) {
			return nil, fmt.Errorf("%w: the server refused a setting of the URL: %w", cache.ErrInvalidURL, err)
		}
		return nil, fmt.Errorf("sqlcache: connect: %w", err)
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
func driverFor(s scheme, registered []string) (sqlDriver, error) {
	for _, d := range s.drivers {
		if slices.Contains(registered, d.name) {
			return d, nil
		}
	}
	imports := fmt.Sprintf("_ %q", s.drivers[0].pkg)
	for _, d := range s.drivers[1:] {
		imports += fmt.Sprintf(" (or _ %q)", d.pkg)
	}
	return sqlDriver{}, urlparam.Errorf("no %v driver is registered with database/sql: import %s", s.dialect, imports)
}

// checkParams returns an error naming the parameters of q that are
// neither s's or d's own, in the spelling they read, nor a setting of s's
// server, in any case.
func (s scheme) checkParams(q url.Values, d sqlDriver) error {
	var unknown []string
	for k := range q {
		name := strings.ToLower(k)
		if !slices.Contains(d.params, k) && !slices.Contains(s.own, k) && !slices.Contains(s.settings, name) &&
			!(s.dialect == Postgres && strings.Contains(name, ".")) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	accepts := []string{"table", "prefix", "create_table", "timeout"}
	if s.also != "" {
		accepts = append(accepts, s.also)
	}
	accepts = append(accepts, fmt.Sprintf("%s's parameters (%s)", d.label, strings.Join(d.params, ", ")))
	if s.hint != "" {
		accepts = append(accepts, s.hint)
	}
	return urlparam.Errorf("unknown parameter %s (%v URLs take %s)", strings.Join(unknown, ", "), s.dialect, strings.Join(accepts, ", "))
}

// readDSN has the driver of db read dsn as it does to connect, and stops
// it before it sends anything: its connector gets a context that is done
// already, so that a driver that can read dsn gives up dialing at once,
// and one that cannot says why (pgx reads its data source name only when
// it connects).
func readDSN(_ context.Context, db *sql.DB, _ sqlDriver, dsn string) error {
	dc, ok := db.Driver().(driver.DriverContext)
	if !ok {
		return nil // the driver reads dsn only when it connects
	}
	connector, err := dc.OpenConnector(dsn)
	if err != nil {
		return err
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	conn, err := connector.Connect(done)
	switch {
	case err == nil:
		return conn.Close()
	case errors.Is(err, context.Canceled):
		return nil
	}
	return err
}

// postgresRefused reports whether err is PostgreSQL refusing a setting
// when a session starts: invalid_parameter_value (22023), as for
// statement_timeout=soon, or undefined_object (42704), as for a custom
// setting under a prefix an extension reserved.
func postgresRefused(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && (pgErr.SQLState() == "22023" || pgErr.SQLState() == "42704")
}

// mysqlRefusals are the numbers of the errors with which MySQL and MariaDB
// refuse a "SET name = value" of go-sql-driver/mysql: unknown system
// variable, local or global only, wrong value, wrong type, read-only.
var mysqlRefusals = []string{"1193", "1228", "1229", "1231", "1232", "1238", "1621"}

// mysqlRefused reports whether err is the server refusing a variable that
// go-sql-driver/mysql set when it connected. The driver's errors are not
// types this package can name without importing (and so registering) the
// driver; it spells them "Error <number> (<state>): <message>".
func mysqlRefused(err error) bool {
	return slices.ContainsFunc(mysqlRefusals, func(n string) bool { return strings.HasPrefix(err.Error(), "Error "+n+" (") })
}

func postgresDSN(u *url.URL, p *urlparam.Params, _ sqlDriver) (string, error) {
	if err := p.Err(); err != nil {
		return "", err
	}
	if u.Opaque != "" {
		return "", urlparam.Errorf("want %s://user:password@host:port/dbname", u.Scheme)
	}
	if u.Host != "" { // pgx reads an empty entry of a list as the default host
		if _, err := urlparam.Hosts(u); err != nil {
			return "", err
		}
	}
	dsn := *u
	dsn.Scheme, dsn.RawQuery = strings.ToLower(u.Scheme), p.Rest()
	return dsn.String(), nil
}

func mysqlDSN(u *url.URL, p *urlparam.Params, _ sqlDriver) (string, error) {
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
	case strings.Contains(u.Host, ","):
		return "", urlparam.Errorf("a mysql URL takes one host: %s", want)
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

// sqliteURIValues are the values SQLite reads for its URI parameters: it
// refuses another mode or cache only once it opens the file, and reads
// another boolean as the default without a word.
var sqliteURIValues = map[string]struct {
	values []string
	want   string
}{
	"mode":      {[]string{"ro", "rw", "rwc", "memory"}, "ro, rw, rwc or memory"},
	"cache":     {[]string{"shared", "private"}, "shared or private"},
	"immutable": {sqliteBooleans, "a boolean (1, yes, true, on, 0, no, false, off)"},
	"nolock":    {sqliteBooleans, "a boolean (1, yes, true, on, 0, no, false, off)"},
	"psow":      {sqliteBooleans, "a boolean (1, yes, true, on, 0, no, false, off)"},
}

var sqliteBooleans = []string{"1", "yes", "true", "on", "0", "no", "false", "off"}

func sqliteDSN(u *url.URL, p *urlparam.Params, d sqlDriver) (string, error) {
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
	if err := urlparam.NoUser(u, "SQLite has no users (mattn/go-sqlite3 takes _auth_user and _auth_pass parameters)"); err != nil {
		return "", err
	}
	q := p.Unread()
	for name, v := range sqliteURIValues {
		for _, value := range q[name] {
			if !slices.ContainsFunc(v.values, func(s string) bool { return strings.EqualFold(s, value) }) {
				return "", urlparam.Errorf("parameter %s=%q: want %s", name, value, v.want)
			}
		}
	}
	if !setsPragma(q, "busy_timeout", "_busy_timeout", "_timeout") && d.name == "sqlite" {
		q.Add("_pragma", "busy_timeout(5000)") // mattn/go-sqlite3 waits 5 s by default
	}
	if !setsPragma(q, "journal_mode", "_journal_mode", "_journal") {
		if d.name == "sqlite" {
			q.Add("_pragma", "journal_mode(WAL)")
		} else {
			q.Set("_journal_mode", "WAL")
		}
	}
	// SQLite decodes %XX in the path of a file: URI, so a path holding
	// '?', '#' or '%' stays the path.
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode(), nil
}

// checkSQLite has the driver open an in-memory database with the
// parameters of dsn that it reads and the VFS dsn names, so that it reads
// their values before the database file is opened or created, and checks
// that each _pragma names a pragma SQLite knows: SQLite ignores others.
func checkSQLite(ctx context.Context, _ *sql.DB, d sqlDriver, dsn string) error {
	_, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return err
	}
	for _, name := range sqliteURIParams {
		if name != "vfs" {
			delete(q, name) // checked by sqliteDSN; the file is not opened
		}
	}
	q.Set("mode", "memory")
	db, err := sql.Open(d.name, "file:cachelib-check?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	for _, v := range q["_pragma"] {
		name, _, _ := strings.Cut(strings.TrimSpace(v), "(")
		name, _, _ = strings.Cut(name, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if _, n, ok := strings.Cut(name, "."); ok {
			name = n // schema.pragma
		}
		var known bool
		if err := db.QueryRowContext(ctx, "SELECT count(*) > 0 FROM pragma_pragma_list WHERE name = ?", name).Scan(&known); err != nil {
			return err
		}
		if !known {
			return fmt.Errorf("_pragma %q: not a pragma this SQLite knows", name)
		}
	}
	return db.PingContext(ctx)
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
