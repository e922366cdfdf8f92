package sqlcache_test

import (
	"cmp"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// withParams returns base with the query parameters kv (name, value, ...)
// set, in place of any value base gives them.
func withParams(t testing.TB, base string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(base)
	must(t, err)
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func openCache(t *testing.T, rawURL string) *sqlcache.Cache {
	t.Helper()
	a := cachetest.Open(t, rawURL)
	c, ok := a.(*sqlcache.Cache)
	if !ok {
		t.Fatalf("%s opened a %T", rawURL, a)
	}
	return c
}

// TestOpenConformance runs the contract on adapters opened by URL: per
// dialect one table, each adapter under a prefix of its own (for SQLite,
// in a file of its own too, so the table dropped at the end is the
// servers').
func TestOpenConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			table := newTable(t, b.open(t))
			cachetest.Run(t, func(t *testing.T) cache.Adapter {
				return cachetest.Open(t, withParams(t, b.url(t), "table", table, "prefix", unique("o%s:"), "timeout", suiteTimeout.String()))
			}, cachetest.WithTTLResolution(sqlcache.Resolution))
		})
	}
}

// The URL's table and prefix reach the adapter and the other parameters
// the driver (a setting of the session it opens), and Close closes the
// *sql.DB that Open opened, once.
func TestOpenOwnsItsDB(t *testing.T) {
	settings := map[string]struct{ param, value, query, want string }{
		"postgres": {"application_name", "cachelib_open", "SELECT current_setting('application_name')", "cachelib_open"},
		"mysql":    {"wait_timeout", "1234", "SELECT @@SESSION.wait_timeout", "1234"},
		"sqlite":   {"_pragma", "busy_timeout(1234)", "PRAGMA busy_timeout", "1234"},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := settings[b.name]
			table := newTable(t, b.open(t))
			a, err := cache.Open(t.Context(), withParams(t, b.url(t), "table", table, "prefix", "p:", s.param, s.value))
			must(t, err)
			c := a.(*sqlcache.Cache)
			db := sqlcache.DB(c)
			ctx := t.Context()
			var got string
			must(t, db.QueryRowContext(ctx, s.query).Scan(&got))
			if got != s.want {
				t.Errorf("%s=%s: %s = %q, want %q", s.param, s.value, s.query, got, s.want)
			}
			must(t, c.Set(ctx, "k", []byte("v"), 0))
			var k []byte
			must(t, db.QueryRowContext(ctx, "SELECT k FROM "+table).Scan(&k))
			if string(k) != "p:k" {
				t.Errorf("stored key in table %s = %q, want %q", table, k, "p:k")
			}
			must(t, c.Close())
			if err := db.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "database is closed") {
				t.Errorf("Ping of the database after Close: %v, want sql: database is closed", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// create_table=false uses the table as it is: Open fails on a table that
// is missing, and works once the table exists.
func TestOpenWithoutCreateTable(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			table := newTable(t, b.open(t))
			base := withParams(t, b.url(t), "table", table)
			without := withParams(t, base, "create_table", "false")
			a, err := cache.Open(t.Context(), without)
			if err == nil {
				a.Close()
				t.Fatalf("Open with create_table=false of the missing table %s succeeded", table)
			}
			if errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), table) {
				t.Errorf("Open with create_table=false of the missing table %s: %v; want the database's error naming it", table, err)
			}
			openCache(t, base) // creates the table
			c := openCache(t, without)
			must(t, c.Set(t.Context(), "k", []byte("v"), 0))
		})
	}
}

// Unless the URL sets them, SQLite gets one connection, a busy timeout of
// 5 s and the WAL journal; what the URL sets, in any of the drivers' forms,
// wins.
func TestOpenSQLiteSettings(t *testing.T) {
	for query, want := range map[string][2]string{
		"":                             {"5000", "wal"},
		"_busy_timeout=1234":           {"1234", "wal"},
		"_pragma=journal_mode(DELETE)": {"5000", "delete"},
		"_pragma=busy_timeout(100)&_journal=TRUNCATE": {"100", "truncate"},
	} {
		db := sqlcache.DB(openCache(t, sqliteURL(t)+"?"+query))
		var busy, journal string
		must(t, db.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&busy))
		must(t, db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&journal))
		if busy != want[0] || journal != want[1] {
			t.Errorf("?%s: busy_timeout %s, journal_mode %s; want %s, %s", query, busy, journal, want[0], want[1])
		}
		if n := db.Stats().MaxOpenConnections; n != 1 {
			t.Errorf("?%s: %d connections at most, want 1", query, n)
		}
	}
}

// mysql:// URLs become the DSNs go-sql-driver/mysql reads as meant.
func TestOpenMySQLDSN(t *testing.T) {
	for rawURL, want := range map[string]mysql.Config{
		"mysql://u:p%40ss:w%2Fd@db.example:3307/app?readTimeout=3s&sql_mode=%27ANSI%27": {
			User: "u", Passwd: "p@ss:w/d", Net: "tcp", Addr: "db.example:3307", DBName: "app", ReadTimeout: 3 * time.Second,
			Params: map[string]string{"sql_mode": "'ANSI'"},
		},
		"mysql://root@/app?socket=/run/mysqld/mysqld.sock": {User: "root", Net: "unix", Addr: "/run/mysqld/mysqld.sock", DBName: "app"},
		"mysql://[::1]/app": {Net: "tcp", Addr: "[::1]:3306", DBName: "app"},
	} {
		dsn, err := sqlcache.DSN(rawURL, "mysql")
		must(t, err)
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Errorf("%s: DSN %q: %v", rawURL, dsn, err)
			continue
		}
		if cfg.User != want.User || cfg.Passwd != want.Passwd || cfg.Net != want.Net || cfg.Addr != want.Addr ||
			cfg.DBName != want.DBName || cfg.ReadTimeout != want.ReadTimeout || len(cfg.Params) != len(want.Params) ||
			cfg.Params["sql_mode"] != want.Params["sql_mode"] {
			t.Errorf("%s: DSN %q reads as user %q password %q %s(%s) db %q readTimeout %v params %v",
				rawURL, dsn, cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName, cfg.ReadTimeout, cfg.Params)
		}
	}
}

// The socket parameter connects through the server's Unix socket.
func TestOpenMySQLSocket(t *testing.T) {
	cfg := mysqlConfig(t)
	socket := filepath.Join(cmp.Or(os.Getenv("CACHELIB_SVC_DIR"), "/tmp/cachelib-svc"), "mariadb", "mysqld.sock")
	if _, err := os.Stat(socket); err != nil {
		t.Skipf("no socket of the MariaDB that scripts/services.sh starts: %v", err)
	}
	u := url.URL{Scheme: "mysql", User: url.UserPassword(cfg.User, cfg.Passwd), Path: "/" + cfg.DBName}
	table := newTable(t, openMySQL(t))
	c := openCache(t, withParams(t, u.String(), "socket", socket, "table", table))
	must(t, c.Set(t.Context(), "k", []byte("v"), 0))
	// The server shows a TCP client as host:port, a socket one as a host.
	var host string
	must(t, sqlcache.DB(c).QueryRowContext(t.Context(),
		"SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()").Scan(&host))
	if strings.Contains(host, ":") {
		t.Errorf("the server sees the client at %s: a TCP connection", host)
	}
}

// A parameter that neither sqlcache, the driver nor the server knows, and
// a value the driver cannot read, are invalid URLs found before anything
// connects (the URL points at a listener that counts connections) or, for
// SQLite, before the database file is created: code that retries
// connection errors must not retry a typo forever.
func TestOpenParamsCheckedBeforeConnecting(t *testing.T) {
	cases := map[string][][3]string{ // parameter, value, what the error says
		"postgres": {
			{"bogus_option", "1", "unknown parameter bogus_option (postgres URLs take table, prefix, create_table, timeout, pgx's parameters"},
			{"tabel", "x", "unknown parameter tabel"},
			{"connect_timeout", "soon", "invalid connect_timeout"},
			{"sslmode", "sometimes", "sslmode is invalid"},
			{"statement_cache_capacity", "many", "cannot parse statement_cache_capacity"},
		},
		"mysql": {
			{"bogus_option", "1", "unknown parameter bogus_option (mysql URLs take table, prefix, create_table, timeout, socket, go-sql-driver/mysql's parameters"},
			{"strict", "true", "unknown parameter strict"},
			{"ParseTime", "true", "unknown parameter ParseTime"},
			{"readTimeout", "soon", `invalid duration "soon"`},
			{"tls", "bogus", "invalid value / unknown config name: bogus"},
		},
		"sqlite": {
			{"_auth_pass", "s3cret", "unknown parameter _auth_pass (sqlite URLs take table, prefix, create_table, timeout, SQLite's URI parameters"},
			{"_loc", "auto", "unknown parameter _loc"},
			{"_txlock", "bogus", `unknown _txlock "bogus"`},
			{"_pragma", "busy_timout(100)", `_pragma "busy_timout": not a pragma this SQLite knows`},
			{"vfs", "nosuch", "no such vfs: nosuch"},
			{"mode", "readonly", `mode="readonly": want ro, rw, rwc or memory`},
			{"cache", "none", `cache="none": want shared or private`},
			{"immutable", "maybe", `immutable="maybe": want a boolean`},
		},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			base, accepted := b.url(t), func() int { return 0 }
			if b.name != "sqlite" {
				// Without the user part of the servers' URLs: Open hides
				// a user name wherever the error shows it, and the
				// test servers' users are "postgres" and "root".
				base, accepted = atListener(t, base)
			}
			for _, c := range cases[b.name] {
				rawURL := withParams(t, base, c[0], c[1])
				a, err := cache.Open(t.Context(), rawURL)
				if err == nil {
					a.Close()
				}
				if !errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), c[2]) {
					t.Errorf("Open with %s=%s: %v; want cache.ErrInvalidURL saying %q", c[0], c[1], err, c[2])
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("Open with %s=%s: the error shows the value: %v", c[0], c[1], err)
				}
				if n := accepted(); n > 0 {
					t.Errorf("Open with %s=%s connected %d times before failing", c[0], c[1], n)
				}
				if u, _ := url.Parse(rawURL); b.name == "sqlite" {
					if _, err := os.Stat(u.Path); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("Open with %s=%s: database file: %v; want none created", c[0], c[1], err)
					}
				}
			}
		})
	}
}

// atListener returns rawURL with its host replaced by a listener's and its
// user by "cachelib", and a function that counts the connections the
// listener accepted.
func atListener(t *testing.T, rawURL string) (string, func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	u, err := url.Parse(rawURL)
	must(t, err)
	u.Host, u.User = l.Addr().String(), url.User("cachelib")
	return u.String(), func() int { return int(n.Load()) }
}

// A server setting is passed on, and the server judges its value: one it
// refuses makes Open fail with its error, wrapping cache.ErrInvalidURL
// since retrying cannot help. For PostgreSQL a name with a dot is a custom
// setting, which the server accepts under any name.
func TestOpenServerSettings(t *testing.T) {
	refused := map[string][3]string{ // parameter, value, what the error says
		"postgres": {"statement_timeout", "soon", `invalid value for parameter "statement_timeout": "soon"`},
		"mysql":    {"wait_timeout", "soon", "Incorrect argument type to variable 'wait_timeout'"},
	}
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			r := refused[b.name]
			a, err := cache.Open(t.Context(), withParams(t, b.url(t), "table", newTable(t, b.open(t)), r[0], r[1]))
			if err == nil {
				a.Close()
			}
			if !errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), r[2]) {
				t.Errorf("Open with %s=%s: %v; want cache.ErrInvalidURL saying %q", r[0], r[1], err, r[2])
			}
		})
	}
	b := backends[0]
	c := openCache(t, withParams(t, b.url(t), "table", newTable(t, b.open(t)), "cachelib.tenant", "t1", "STATEMENT_TIMEOUT", "5s"))
	var tenant, timeout string
	must(t, sqlcache.DB(c).QueryRowContext(t.Context(), "SELECT current_setting('cachelib.tenant'), current_setting('statement_timeout')").Scan(&tenant, &timeout))
	if tenant != "t1" || timeout != "5s" {
		t.Errorf("cachelib.tenant = %q, statement_timeout = %q; want t1, 5s", tenant, timeout)
	}
}

// The lists of parameters that sqlcache holds for each driver are what the
// drivers read: pgx and go-sql-driver/mysql keep each of their parameters
// out of what they send the server as settings, and pass every server
// setting on; modernc.org/sqlite reads each of its own (a value it cannot
// read fails). mattn/go-sqlite3 and lib/pq, which need cgo or are not
// linked here, are not checked.
func TestOpenDriverParamLists(t *testing.T) {
	for _, name := range sqlcache.DriverParams("postgres", "pgx") {
		cfg, err := pgx.ParseConfig("postgres://u@h/db?" + url.QueryEscape(name) + "=x")
		if err == nil && cfg.RuntimeParams[name] == "x" {
			t.Errorf("pgx sends %s to the server: not a pgx parameter", name)
		}
	}
	for _, name := range sqlcache.Settings("postgres") {
		cfg, err := pgx.ParseConfig("postgres://u@h/db?" + url.QueryEscape(name) + "=x")
		if err != nil || cfg.RuntimeParams[name] != "x" {
			t.Errorf("pgx does not send the setting %s to the server: %v", name, err)
		}
	}
	for _, name := range sqlcache.DriverParams("mysql", "mysql") {
		cfg, err := mysql.ParseDSN("u@tcp(h:1)/db?" + name + "=x")
		if err == nil && cfg.Params[name] == "x" {
			t.Errorf("go-sql-driver/mysql sends %s to the server: not one of its parameters", name)
		}
	}
	for _, name := range sqlcache.Settings("mysql") {
		cfg, err := mysql.ParseDSN("u@tcp(h:1)/db?" + name + "=x")
		if err != nil || cfg.Params[name] != "x" {
			t.Errorf("go-sql-driver/mysql does not send the variable %s to the server: %v", name, err)
		}
	}
	for _, name := range sqlcache.DriverParams("sqlite", "sqlite") {
		if name == "_pragma" {
			continue // its value is a PRAGMA statement, checked on its own
		}
		a, err := cache.Open(t.Context(), sqliteURL(t)+"?"+name+"=bogus")
		if err == nil {
			a.Close()
		}
		if !errors.Is(err, cache.ErrInvalidURL) {
			t.Errorf("%s=bogus: %v; want modernc.org/sqlite to refuse the value", name, err)
		}
	}
}

// Every server setting sqlcache lets through is one the test servers have
// and a session may set: the lists were read from PostgreSQL 15 and
// MariaDB 10.11, and names that only MySQL has are left out of the check.
func TestOpenSettingsExistOnServers(t *testing.T) {
	names := column(t, openPostgres(t), "SELECT lower(name) FROM pg_settings WHERE context IN ('user', 'superuser', 'backend', 'superuser-backend')")
	for _, s := range sqlcache.Settings("postgres") {
		if !slices.Contains(names, s) && s != "options" {
			t.Errorf("PostgreSQL has no setting %s that a session may set", s)
		}
	}
	my := openMySQL(t)
	if version := column(t, my, "SELECT VERSION()")[0]; !strings.Contains(version, "MariaDB") {
		t.Skipf("the server is %s, not MariaDB", version)
	}
	names = column(t, my, "SELECT lower(VARIABLE_NAME) FROM information_schema.SYSTEM_VARIABLES WHERE VARIABLE_SCOPE IN ('SESSION', 'SESSION ONLY') AND READ_ONLY = 'NO'")
	for _, s := range sqlcache.Settings("mysql") {
		if !slices.Contains(names, s) && !slices.Contains(sqlcache.MySQLOnly, s) {
			t.Errorf("MariaDB has no session variable %s", s)
		}
	}
}

// column returns the one column of the rows query returns.
func column(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	must(t, err)
	defer rows.Close()
	var values []string
	for rows.Next() {
		var v string
		must(t, rows.Scan(&v))
		values = append(values, v)
	}
	must(t, rows.Err())
	return values
}

// Errors that come from the drivers do not show the password either.
func TestOpenDriverErrorsHidePassword(t *testing.T) {
	for _, rawURL := range []string{
		"postgres://u:s3cret@127.0.0.1:1/db?sslmode=sometimes",
		"postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1",
		"mysql://u:s3cret@127.0.0.1:1/db?timeout=1s",
	} {
		a, err := cache.Open(t.Context(), rawURL)
		if err == nil {
			a.Close()
			t.Fatalf("Open(%s) succeeded", rawURL)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s): the error shows the password: %v", rawURL, err)
		}
	}
}

// mattn/go-sqlite3 takes its own parameters: it gets the WAL journal unless
// the URL sets one (its busy timeout is 5 s already), and the path is
// escaped as SQLite's file: URIs want.
func TestOpenSQLite3DSN(t *testing.T) {
	for rawURL, want := range map[string]string{
		"sqlite:rel/my%20cache.db?mode=ro":        "file:rel/my%20cache.db?_journal_mode=WAL&mode=ro",
		"sqlite:///abs/a%3Fb.db?_busy_timeout=10": "file:/abs/a%3Fb.db?_busy_timeout=10&_journal_mode=WAL",
		"sqlite:///abs/c.db?_journal=DELETE":      "file:/abs/c.db?_journal=DELETE",
	} {
		if got, err := sqlcache.DSN(rawURL, "sqlite3"); err != nil || got != want {
			t.Errorf("DSN(%q) for sqlite3 = %q, %v; want %q", rawURL, got, err, want)
		}
	}
}

// Open takes the preferred driver that is registered, and without one
// names the import that would register it.
func TestOpenDrivers(t *testing.T) {
	for _, tc := range []struct {
		scheme     string
		registered []string
		want       string
	}{
		{"postgres", []string{"postgres", "pgx"}, "pgx"},
		{"postgresql", []string{"postgres", "mysql"}, "postgres"},
		{"mysql", []string{"mysql"}, "mysql"},
		{"sqlite", []string{"sqlite3", "sqlite"}, "sqlite"},
		{"sqlite", []string{"sqlite3"}, "sqlite3"},
	} {
		if got, err := sqlcache.DriverFor(tc.scheme, tc.registered); err != nil || got != tc.want {
			t.Errorf("%s with %v registered: %q, %v; want %q", tc.scheme, tc.registered, got, err, tc.want)
		}
	}
	for scheme, want := range map[string]string{
		"postgres": `no postgres driver is registered with database/sql: import _ "github.com/jackc/pgx/v5/stdlib" (or _ "github.com/lib/pq")`,
		"mysql":    `import _ "github.com/go-sql-driver/mysql"`,
		"sqlite":   `no sqlite driver is registered with database/sql: import _ "modernc.org/sqlite" (or _ "github.com/mattn/go-sqlite3")`,
	} {
		_, err := sqlcache.DriverFor(scheme, []string{"other"})
		if !errors.Is(err, cache.ErrInvalidURL) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s without its driver: %v; want cache.ErrInvalidURL saying %q", scheme, err, want)
		}
	}
}

// Every URL here fails before anything connects, with a message that names
// the problem and never shows the password.
func TestOpenBadURLs(t *testing.T) {
	cachetest.BadURLs(t, map[string]string{
		"postgres://u:s3cret@h/db?table=1bad":                          `table name "1bad": want letters, digits and underscores`,
		"postgres://u:s3cret@h/db?prefix=" + strings.Repeat("x", 1025): "prefix of 1025 bytes, at most 1024 allowed",
		"postgres://u:s3cret@h/db?create_table=no":                     `create_table="no": want true or false`,
		"postgres://u:s3cret@h/db?table=a&table=b":                     `table="a,b": want given once`,
		"postgresql:h/db":                                          "want postgresql://user:password@host:port/dbname",
		"mysql://u:s3cret@127.0.0.1:1":                             `path "" is not a database name`,
		"mysql://u:s3cret@h/a/b":                                   `path "/a/b" is not a database name`,
		"mysql://u:s3cret@/db":                                     "no host: want mysql://user:password@host:port/dbname",
		"mysql://u:s3cret@h/db?socket=/x.sock":                     "a host and a socket: give one of them",
		"mysql://u:s3cret@h/db?clientFoundRows=true":               `clientFoundRows="true": Add needs the default, false`,
		"mysql://u:s3cret@h/db?readTimeout=soon":                   `invalid duration "soon"`,
		"mysql://u:s3cret@h/db?timeout=soon":                       `timeout="soon": want a positive duration`,
		"postgres://u:s3cret@h/db?timeout=0s":                      `timeout="0s": want a positive duration`,
		"sqlite://server/x.db":                                     `host "server": the database file must be local`,
		"sqlite://":                                                "sqlite URL without a database file",
		"sqlite:///tmp/x.db?tabel=x&mode=ro&_fk=1":                 "unknown parameter tabel (sqlite URLs take",
		"sqlite://u:s3cret@/tmp/x.db":                              "a sqlite URL takes no user or password",
		"sqlite:///tmp/x.db#s3cret":                                "a fragment (#...) is not part of a sqlite URL",
		"postgres://u:s3cret@h/db#s3cret":                          "a fragment (#...) is not part of a postgres URL",
		"mysql://u:s3cret@h/db#s3cret":                             "a fragment (#...) is not part of a mysql URL",
		"mysql://u:s3cret@h/db?strict=true":                        "unknown parameter strict",
		"mysql://u:s3cret@h1,h2/db":                                "a mysql URL takes one host",
		"postgres://u:s3cret@h1,,h2/db":                            `host list "h1,,h2" has an empty entry`,
		"postgres://u:s3cret@h/db?sslmode=disable&sslmode=require": `parameter sslmode="disable,require": want given once`,
		"mysql://u:s3cret@h/db?timeout=1s&timeout=2s":              `parameter timeout="1s,2s": want given once`,
		"sqlite:///tmp/x.db?_txlock=immediate&_txlock=deferred":    `parameter _txlock="immediate,deferred": want given once`,
	})
}
