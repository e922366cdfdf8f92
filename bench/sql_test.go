package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	"github.com/cachelib-go/cachelib/internal/testenv"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// sqlDialects are the databases of the sqlcache benchmarks: the servers of
// scripts/services.sh, as in the adapter's tests, and a SQLite file. Each
// has the statements a program using the driver directly would prepare for
// the same work as the adapter's Get and Set, on the same table.
var sqlDialects = []struct {
	name     string
	open     func(b *testing.B) *sql.DB
	get, set string
}{
	{
		"postgres", openBenchPostgres,
		`SELECT v FROM %s WHERE k = $1 AND (exp = 0 OR exp > $2)`,
		`INSERT INTO %s (k, v, exp) VALUES ($1, $2, $3) ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp`,
	},
	{
		"mysql", openBenchMySQL,
		"SELECT v FROM %s WHERE k = ? AND (exp = 0 OR exp > ?)",
		"INSERT INTO %s (k, v, exp) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v), exp = VALUES(exp)",
	},
	{
		"sqlite", openBenchSQLite,
		`SELECT v FROM %s WHERE k = ? AND (exp = 0 OR exp > ?)`,
		`INSERT INTO %s (k, v, exp) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp`,
	},
}

func openBenchPostgres(b *testing.B) *sql.DB {
	dsn := testenv.DSN(b, "CACHELIB_POSTGRES_DSN", "postgres://postgres@127.0.0.1:55432/cachetest?sslmode=disable",
		func(dsn string) (string, error) {
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				return "", err
			}
			return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), nil
		})
	cfg, err := pgx.ParseConfig(dsn)
	must(b, err)
	return stdlib.OpenDB(*cfg)
}

func openBenchMySQL(b *testing.B) *sql.DB {
	dsn := testenv.DSN(b, "CACHELIB_MYSQL_DSN", "root@tcp(127.0.0.1:33306)/cachetest",
		func(dsn string) (string, error) {
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				return "", err
			}
			return cfg.Addr, nil
		})
	db, err := sql.Open("mysql", dsn)
	must(b, err)
	return db
}

func openBenchSQLite(b *testing.B) *sql.DB {
	path := filepath.Join(b.TempDir(), "bench.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	must(b, err)
	db.SetMaxOpenConns(1)
	return db
}

// newSQL opens the database, creates a table of its own through an
// unprefixed sqlcache on it (so its stored keys are benchKeys as bytes, as
// the raw statements use them) with every benchmark key set, and drops the
// table afterwards.
func newSQL(b *testing.B, open func(b *testing.B) *sql.DB) (*sql.DB, string, *sqlcache.Cache) {
	db := open(b)
	table := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	ctx := context.Background()
	c, err := sqlcache.New(ctx, db, sqlcache.WithTable(table))
	must(b, err)
	b.Cleanup(func() {
		c.Close()
		db.Exec("DROP TABLE " + table)
		db.Close()
	})
	fill(b, c)
	return db, table, c
}

func prepare(b *testing.B, db *sql.DB, query, table string) *sql.Stmt {
	st, err := db.Prepare(fmt.Sprintf(query, table))
	must(b, err)
	b.Cleanup(func() { st.Close() })
	return st
}

var sqlKeys = func() [][]byte {
	keys := make([][]byte, nkeys)
	for i, k := range benchKeys {
		keys[i] = []byte(k)
	}
	return keys
}()

func BenchmarkSQLGet(b *testing.B) {
	ctx := context.Background()
	for _, d := range sqlDialects {
		b.Run(d.name+"/sqlcache", func(b *testing.B) {
			_, _, c := newSQL(b, d.open)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				v, err := c.Get(ctx, benchKeys[i%nkeys])
				must(b, err)
				sink = v
			}
		})
		b.Run(d.name+"/database-sql", func(b *testing.B) {
			db, table, _ := newSQL(b, d.open)
			st := prepare(b, db, d.get, table)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var v []byte
				must(b, st.QueryRowContext(ctx, sqlKeys[i%nkeys], time.Now().UnixMilli()).Scan(&v))
				sink = v
			}
		})
	}
}

func BenchmarkSQLSet(b *testing.B) {
	ctx := context.Background()
	for _, d := range sqlDialects {
		b.Run(d.name+"/sqlcache", func(b *testing.B) {
			_, _, c := newSQL(b, d.open)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				must(b, c.Set(ctx, benchKeys[i%nkeys], benchValue, time.Hour))
			}
		})
		b.Run(d.name+"/database-sql", func(b *testing.B) {
			db, table, _ := newSQL(b, d.open)
			st := prepare(b, db, d.set, table)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_, err := st.ExecContext(ctx, sqlKeys[i%nkeys], benchValue, time.Now().Add(time.Hour).UnixMilli())
				must(b, err)
			}
		})
	}
}
