package sqlcache

import (
	"database/sql/driver"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Dialect is the SQL spoken by the database behind a *sql.DB.
type Dialect int

// The dialects sqlcache speaks. The zero Dialect means "detect it from the
// driver".
const (
	// Postgres is PostgreSQL 9.5 or later (INSERT ... ON CONFLICT), for
	// example through github.com/jackc/pgx/v5/stdlib or github.com/lib/pq.
	Postgres Dialect = iota + 1
	// MySQL is MySQL 5.7 or later or MariaDB 10.2 or later with InnoDB,
	// through github.com/go-sql-driver/mysql.
	MySQL
	// SQLite is SQLite 3.24 or later (upserts), for example through
	// modernc.org/sqlite or github.com/mattn/go-sqlite3.
	SQLite
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	case SQLite:
		return "sqlite"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// driverDialects maps the import path of a driver package to its dialect.
// Matching the path rather than the type keeps every driver out of the
// binaries of programs that use another one.
var driverDialects = []struct {
	pkg     string
	dialect Dialect
}{
	{"github.com/jackc/pgx", Postgres},
	{"github.com/lib/pq", Postgres},
	{"github.com/go-sql-driver/mysql", MySQL},
	{"modernc.org/sqlite", SQLite},
	{"github.com/mattn/go-sqlite3", SQLite},
}

// detect names the dialect of drv from the package that defines its type.
func detect(drv driver.Driver) (Dialect, error) {
	t := reflect.TypeOf(drv)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil {
		for _, d := range driverDialects {
			if strings.HasPrefix(t.PkgPath(), d.pkg) {
				return d.dialect, nil
			}
		}
	}
	return 0, fmt.Errorf("sqlcache: cannot tell the SQL dialect of driver %T: use WithDialect", drv)
}

// statements are the SQL texts of one table in one dialect. Placeholders
// are numbered in the order of the arguments each method passes.
type statements struct {
	create []string
	// set stores k, v, exp whether or not k exists.
	set string
	// add stores k, v, exp when k is absent or its row expired at now
	// (the fourth argument; MySQL takes it twice); it affects no row
	// otherwise.
	add string
	// get, has and del take k and now (get returns v and exp); read
	// takes k and returns v and exp; swap sets v (first argument) only
	// where k, v and exp are still those given (second to fourth).
	get, has, del, read, swap string
	// getIn and delIn take now and end with "IN (": the caller adds the
	// placeholders of the keys.
	getIn, delIn string
}

func (d Dialect) quote(ident string) string {
	if d == MySQL {
		return "`" + ident + "`"
	}
	return `"` + ident + `"`
}

// deleteBatch returns a DELETE of at most batchSize rows of table t that
// meet cond. MySQL takes them in the order of the columns given, which
// makes a DELETE ... LIMIT deterministic and so safe for statement-based
// replication; PostgreSQL has no DELETE ... LIMIT, and SQLite has it only
// when built with an option.
func (d Dialect) deleteBatch(t, cond, order string) string {
	limit := " LIMIT " + strconv.Itoa(batchSize)
	if d == MySQL {
		return "DELETE FROM " + t + " WHERE " + cond + " ORDER BY " + order + limit
	}
	return "DELETE FROM " + t + " WHERE k IN (SELECT k FROM " + t + " WHERE " + cond + limit + ")"
}

// placeholders returns the n placeholders from the first'th on, separated
// by commas.
func (d Dialect) placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if d == Postgres {
			b.WriteString("$" + strconv.Itoa(first+i))
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// statements writes the SQL of every operation on table. Expiry is Unix
// milliseconds computed in Go, 0 for none, so that the database's clock and
// time zone never matter; "live at now" is exp = 0 OR exp > now.
func (d Dialect) statements(table string) statements {
	t := d.quote(table)
	p := func(i int) string { return d.placeholders(i, 1) }
	live := func(i int) string { return "(exp = 0 OR exp > " + p(i) + ")" }
	s := statements{
		get:   "SELECT v, exp FROM " + t + " WHERE k = " + p(1) + " AND " + live(2),
		has:   "SELECT 1 FROM " + t + " WHERE k = " + p(1) + " AND " + live(2),
		del:   "DELETE FROM " + t + " WHERE k = " + p(1) + " AND " + live(2),
		read:  "SELECT v, exp FROM " + t + " WHERE k = " + p(1),
		swap:  "UPDATE " + t + " SET v = " + p(1) + " WHERE k = " + p(2) + " AND v = " + p(3) + " AND exp = " + p(4),
		getIn: "SELECT k, v FROM " + t + " WHERE " + live(1) + " AND k IN (",
		delIn: "DELETE FROM " + t + " WHERE " + live(1) + " AND k IN (",
	}
	insert := "INSERT INTO " + t + " (k, v, exp) VALUES (" + d.placeholders(1, 3) + ")"
	switch d {
	case MySQL:
		// Keys up to maxKeyLen bytes fit InnoDB's 3072-byte index limit
		// whole, so the key itself is the primary key.
		s.create = []string{"CREATE TABLE IF NOT EXISTS " + t + " (" +
			"k VARBINARY(" + strconv.Itoa(maxKeyLen) + ") NOT NULL PRIMARY KEY, " +
			"v LONGBLOB NOT NULL, exp BIGINT NOT NULL DEFAULT 0, " +
			"INDEX " + d.quote(table+"_exp") + " (exp)) ENGINE=InnoDB"}
		s.set = insert + " ON DUPLICATE KEY UPDATE v = VALUES(v), exp = VALUES(exp)"
		// MySQL assigns left to right, each assignment seeing the
		// previous ones: v must be decided while exp still holds the
		// old expiry. An expired row always gets a new exp (0 or in
		// the future), so a replacement always counts as a change:
		// 1 row affected for an insert, 2 for a replacement, 0 when
		// the live row stays.
		expired := "exp <> 0 AND exp <= " + p(4)
		s.add = insert + " ON DUPLICATE KEY UPDATE v = IF(" + expired + ", VALUES(v), v), " +
			"exp = IF(" + expired + ", VALUES(exp), exp)"
	default:
		key, value := "BYTEA", "BYTEA"
		if d == SQLite {
			key, value = "BLOB", "BLOB"
		}
		s.create = []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (k " + key + " NOT NULL PRIMARY KEY, " +
				"v " + value + " NOT NULL, exp BIGINT NOT NULL DEFAULT 0)",
			"CREATE INDEX IF NOT EXISTS " + d.quote(table+"_exp") + " ON " + t + " (exp)",
		}
		s.set = insert + " ON CONFLICT (k) DO UPDATE SET v = excluded.v, exp = excluded.exp"
		s.add = s.set + " WHERE " + t + ".exp <> 0 AND " + t + ".exp <= " + p(4)
	}
	return s
}
