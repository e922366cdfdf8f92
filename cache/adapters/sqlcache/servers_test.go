package sqlcache_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// The servers scripts/services.sh starts, and the environment variables
// that point the tests elsewhere.
const (
	postgresEnv = "CACHELIB_POSTGRES_DSN"
	postgresDef = "postgres://postgres@127.0.0.1:55432/cachetest?sslmode=disable"
	mysqlEnv    = "CACHELIB_MYSQL_DSN"
	mysqlDef    = "root@tcp(127.0.0.1:33306)/cachetest"
)

// A backend opens a database of one dialect for a test.
type backend struct {
	name string
	open func(t testing.TB) *sql.DB
	// via opens the same database through a proxy at addr, and returns
	// the address of the real server to put the proxy in front of.
	via func(t testing.TB, proxy func(upstream string) (addr string)) *sql.DB
	// url is the URL of the same database for cache.Open; for SQLite, a
	// new file on each call.
	url func(t testing.TB) string
}

var backends = []backend{
	{"postgres", openPostgres, postgresVia, postgresURL},
	{"mysql", openMySQL, mysqlVia, mysqlURL},
	{"sqlite", openSQLite, nil, sqliteURL},
}

// postgresDSN returns the server's DSN after checking that it is up.
func postgresDSN(t testing.TB) string {
	t.Helper()
	return testenv.DSN(t, postgresEnv, postgresDef, func(dsn string) (string, error) {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), nil
	})
}

func postgresConfig(t testing.TB) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// postgresURL is the server's DSN, which must be in URL form.
func postgresURL(t testing.TB) string {
	t.Helper()
	dsn := postgresDSN(t)
	if u, err := url.Parse(dsn); err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		t.Fatalf("%s=%q: the tests of cache.Open need a postgres:// URL", postgresEnv, dsn)
	}
	return dsn
}

func openPostgres(t testing.TB) *sql.DB {
	return closeWith(t, stdlib.OpenDB(*postgresConfig(t)))
}

func postgresVia(t testing.TB, proxy func(string) string) *sql.DB {
	cfg := postgresConfig(t)
	host, port, err := net.SplitHostPort(proxy(net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	cfg.Host, cfg.Port = host, uint16(p)
	cfg.Fallbacks = nil
	return closeWith(t, stdlib.OpenDB(*cfg))
}

func mysqlConfig(t testing.TB) *mysql.Config {
	t.Helper()
	dsn := testenv.DSN(t, mysqlEnv, mysqlDef, func(dsn string) (string, error) {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return "", err
		}
		return cfg.Addr, nil
	})
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func openMySQL(t testing.TB) *sql.DB {
	return openMySQLConfig(t, mysqlConfig(t))
}

func openMySQLConfig(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return closeWith(t, sql.OpenDB(conn))
}

func mysqlVia(t testing.TB, proxy func(string) string) *sql.DB {
	cfg := mysqlConfig(t)
	cfg.Addr = proxy(cfg.Addr)
	return openMySQLConfig(t, cfg)
}

// mysqlURL writes the server's DSN as a mysql:// URL.
func mysqlURL(t testing.TB) string {
	t.Helper()
	cfg := mysqlConfig(t)
	if cfg.Net != "tcp" {
		t.Fatalf("%s: the tests of cache.Open need a server on TCP, not %s", mysqlEnv, cfg.Net)
	}
	u := url.URL{Scheme: "mysql", User: url.UserPassword(cfg.User, cfg.Passwd), Host: cfg.Addr, Path: "/" + cfg.DBName}
	if cfg.Passwd == "" {
		u.User = url.User(cfg.User)
	}
	return u.String()
}

// openSQLite opens a fresh database file. SQLite allows one writer at a
// time; with a single connection, writes queue in database/sql instead of
// meeting each other's locks, so "database is locked" cannot happen. The
// busy timeout and WAL are what an application would set as well.
func openSQLite(t testing.TB) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return closeWith(t, db)
}

func sqliteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "cache.db")
}

func closeWith(t testing.TB, db *sql.DB) *sql.DB {
	t.Cleanup(func() { db.Close() })
	return db
}

// The servers keep tables between runs: names carry the run's start time
// and a counter, and tests drop the tables they create.
var (
	runID = strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
	seq   atomic.Int64
)

func unique(format string) string {
	return fmt.Sprintf(format, fmt.Sprintf("%s_%d", runID, seq.Add(1)))
}

// newTable returns the name of a table that is dropped when the test ends.
func newTable(t testing.TB, db *sql.DB) string {
	t.Helper()
	name := unique("t_%s")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
			t.Errorf("drop table %s: %v", name, err)
		}
	})
	return name
}

// suiteTimeout is the per-call timeout of the adapters the tests make,
// unless a test gives its own: the suites run their rules in parallel on a
// machine that may be busy with other tests, where a call has been seen to
// wait more than the default 5 s for a PostgreSQL connection (the server
// forks a process for each) or, on SQLite's single connection, for the
// writers queued before it. The default would turn such a stall into a
// failure that says nothing about the adapter.
const suiteTimeout = time.Minute

func newCache(t testing.TB, db *sql.DB, opts ...sqlcache.Option) *sqlcache.Cache {
	t.Helper()
	c, err := sqlcache.New(t.Context(), db, append([]sqlcache.Option{sqlcache.WithTimeout(suiteTimeout)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
