// Package sqlcache is a cache.Adapter on a table of a SQL database, through
// database/sql: PostgreSQL, MySQL or MariaDB, and SQLite.
//
// # The table
//
// Each entry is one row of three columns: k, the key (bytea, VARBINARY(2048)
// or BLOB), v, the value (bytea, LONGBLOB or BLOB) and exp, its expiry in
// Unix milliseconds (BIGINT, 0 for none), with an index on exp so that
// DeleteExpired is cheap. New creates the table when it is missing unless
// WithoutCreateTable is given. Keys are compared as bytes, so any string
// works as a key, invalid UTF-8 and NUL bytes included. The stored key is
// the prefix followed by the cache key; a key that would make it longer than
// 2048 bytes, or that starts with the byte 0xFF, is stored as the byte 0xFF
// followed by its SHA-256 instead, which no key stored as is can equal. The
// width keeps the primary key within InnoDB's 3072-byte index limit and
// PostgreSQL's 2704-byte B-tree limit.
//
// # Expiry
//
// The database keeps expired rows until they are overwritten or swept: every
// read asks for exp = 0 OR exp > now, with now computed in Go so that the
// database's clock and time zone never matter, and Add and Increment treat an
// expired row as absent. DeleteExpired (cache.Sweeper) deletes them; call it
// now and then, for example from a time.Ticker. TTLs are kept to the
// millisecond (Resolution). GetWithTTL (cache.TTLGetter) measures the time
// an entry has left on the same clock, from the exp its query returns.
//
// # Statements
//
// Set is one upsert (INSERT ... ON CONFLICT DO UPDATE, or ON DUPLICATE KEY
// UPDATE on MySQL). Add is one upsert whose update branch applies only when
// the existing row has expired, so that it is atomic over an expired row
// too. Get, GetWithTTL, Has and Delete are one statement each; GetMany and
// DeleteMany are one statement per 500 keys; SetMany runs one upsert per
// item in one transaction. Clear and DeleteExpired delete at most 500 rows
// per statement, over the key range of the prefix, until none is left, so
// that no statement of theirs runs long.
//
// Increment is a compare-and-swap loop of two statements, the same in every
// dialect: it reads the row, computes the sum in Go with cache.ParseInt and
// cache.AddInt, and writes it with an UPDATE that applies only if the row is
// still the one it read, retrying when another writer came first; a missing
// or expired row is created with the Add upsert. No SQL cast then decides
// what an integer is (PostgreSQL's bigint cast accepts " +7", SQLite's
// arithmetic turns overflow into a float), and no driver error code is
// needed to tell a non-integer from an overflow. Every attempt that fails
// has changed nothing, and one of the competing writers always succeeds.
//
// # Connections and timeouts
//
// The adapter never closes the *sql.DB it was given: Close only stops this
// adapter (its prepared statements), and afterwards its methods return
// cache.ErrClosed. The *sql.DB that cache.Open opens for a postgres, mysql or
// sqlite URL belongs to the adapter, and Close closes it too.
//
// Every query runs with the caller's context, bounded by the adapter's
// timeout (WithTimeout, default 5 s) when the context has no earlier
// deadline, so that a server that stops answering never blocks a caller
// whose context has none; Clear and DeleteExpired bound each of their
// statements by it instead, and New each of its steps. The bound covers the
// wait for a connection of the pool, connecting, and every statement: pgx
// and go-sql-driver/mysql end a statement whose context ends by closing its
// connection, modernc.org/sqlite interrupts it. go-sql-driver/mysql does not
// watch the context of (*sql.Tx).Commit, so SetMany sends BEGIN and COMMIT
// as statements on a connection of its own.
//
// With MySQL, Add learns whether it stored its value from the affected-rows
// count, which requires the driver's default clientFoundRows=false. A
// statement larger than the server's max_allowed_packet (16 MiB by default
// on MariaDB, 64 MiB on MySQL 8) would fail and break its connection, so New
// reads that setting and Set, Add and SetMany refuse a value within 3 KiB of
// it with cache.ErrTooLarge before sending anything. PostgreSQL's bytea and
// SQLite's BLOB hold up to about 1 GB.
//
// SQLite allows one writer at a time. Open it with a busy timeout (for
// modernc.org/sqlite, _pragma=busy_timeout(5000) in the DSN) and, when many
// goroutines write at once, db.SetMaxOpenConns(1): a write on one connection
// then never meets a lock held by another, and "database is locked" cannot
// happen. Calls then wait for that connection in turn, within their
// timeout: give WithTimeout room for the longest queue of writers.
//
// # Lost replies
//
// database/sql sends a statement again on another connection only when the
// driver returns driver.ErrBadConn, which go-sql-driver/mysql and
// modernc.org/sqlite do only when nothing was sent, and pgx too for a
// statement with arguments. pgx (v5.12) returns it also when the reply to a
// statement without arguments was lost, and database/sql then runs the
// statement twice; the adapter's only such write is Clear's DELETE without
// a prefix, which may run twice.
//
// A statement that changes rows and whose reply never comes (the
// connection broke, or the deadline passed while it was in flight) may or
// may not have been applied: Set, Add, Delete, Increment, SetMany (when
// its COMMIT gets no reply), DeleteMany, Clear and DeleteExpired then
// return an error matching cache.ErrUncertain. The database's own error
// reply (a refused statement changes nothing), a failure to connect and a
// connection the driver knows to be unused are certain; so is any failure
// of SetMany before its COMMIT, since the transaction is then rolled back.
// An error of a write that does not match cache.ErrUncertain means that
// nothing was changed.
package sqlcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/calltimeout"
	"github.com/cachelib-go/cachelib/internal/uncertain"
)

// Resolution is the TTL resolution of the exp column: shorter positive TTLs
// are rounded up to a millisecond.
const Resolution = time.Millisecond

// DefaultTable is the table used unless WithTable says otherwise.
const DefaultTable = "cachelib_cache"

const (
	// maxKeyLen is the width of the key column.
	maxKeyLen = 2048
	// MaxPrefixLen is the longest prefix WithPrefix accepts, which
	// leaves room for a hashed key after it.
	MaxPrefixLen = 1024
	// hashMark starts a stored key that is a SHA-256 rather than the key.
	hashMark = 0xFF
	// batchSize is the most keys one GetMany or DeleteMany statement
	// carries, far below every dialect's limit on placeholders, and the
	// most rows one statement of Clear or DeleteExpired deletes.
	batchSize = 500
)

// Option configures a Cache.
type Option func(*config)

type config struct {
	dialect     Dialect
	table       string
	prefix      string
	createTable bool
	timeout     time.Duration
}

// WithDialect names the database's dialect instead of detecting it from the
// type of db.Driver(), which New does by default for pgx, lib/pq,
// go-sql-driver/mysql, modernc.org/sqlite and mattn/go-sqlite3.
func WithDialect(d Dialect) Option { return func(c *config) { c.dialect = d } }

// WithTable sets the table (default DefaultTable): a plain identifier of
// letters, digits and underscores that does not start with a digit, at most
// 59 bytes, used as written (quoted, so case-sensitive in PostgreSQL). The
// table is the namespace of an adapter without a prefix: Clear then deletes
// every row of it.
func WithTable(name string) Option { return func(c *config) { c.table = name } }

// WithPrefix puts every key under prefix (default: none), so that several
// adapters can share a table and Clear removes only this adapter's rows. The
// stored key is the prefix followed by the key, byte for byte. A prefix is
// at most MaxPrefixLen bytes.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithoutCreateTable makes New use the table as it is, for a schema managed
// elsewhere; the table must have the columns described in the package
// documentation. By default New creates the table and its index when they
// are missing.
func WithoutCreateTable() Option { return func(c *config) { c.createTable = false } }

// WithTimeout bounds every call by d (default 5 s) when its context has no
// earlier deadline, and each statement of Clear and DeleteExpired; see the
// package documentation. It must be positive. In cache.Open URLs it is the
// timeout parameter ("timeout=500ms").
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,58}$`)

// Cache is a cache.Adapter on one table. It also implements
// cache.Incrementer, cache.Batcher, cache.Sweeper and cache.TTLGetter.
// Create it with New and release it with Close.
type Cache struct {
	db      *sql.DB
	dialect Dialect
	prefix  string
	sql     statements
	// clear and sweep delete the prefix's rows and its expired rows;
	// rangeArgs are the bounds of the prefix's key range, the arguments
	// of clear and the last ones of sweep.
	clear, sweep string
	rangeArgs    []any

	// maxValue is the largest value the database accepts; 0 for no
	// limit below what a []byte holds.
	maxValue int
	// timeout bounds a call whose context has no earlier deadline.
	timeout time.Duration

	// mu is held shared by every call and exclusively by Close, which
	// closes the prepared statements a call may be using.
	mu     sync.RWMutex
	closed bool
	st     prepared
	ownsDB bool // opened by cache.Open: Close closes db
}

// prepared are the single-key statements, prepared by New.
type prepared struct {
	set, add, get, has, del, read, swap *sql.Stmt
}

func (p *prepared) all() []**sql.Stmt {
	return []**sql.Stmt{&p.set, &p.add, &p.get, &p.has, &p.del, &p.read, &p.swap}
}

var _ interface {
	cache.Adapter
	cache.Incrementer
	cache.Batcher
	cache.Sweeper
	cache.TTLGetter
} = (*Cache)(nil)

// New returns a Cache on a table of db, creating the table unless
// WithoutCreateTable is given, and prepares its statements.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Cache, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("sqlcache: nil *sql.DB")
	}
	if cfg.dialect == 0 {
		d, err := detect(db.Driver())
		if err != nil {
			return nil, err
		}
		cfg.dialect = d
	}
	if cfg.dialect < Postgres || cfg.dialect > SQLite {
		return nil, fmt.Errorf("sqlcache: unknown dialect %v", cfg.dialect)
	}
	c := &Cache{db: db, dialect: cfg.dialect, prefix: cfg.prefix, sql: cfg.dialect.statements(cfg.table), timeout: cfg.timeout}
	t := cfg.dialect.quote(cfg.table)
	inRange, rangeArgs := cfg.dialect.keyRange(cfg.prefix, 1)
	c.clear, c.rangeArgs = cfg.dialect.deleteBatch(t, inRange, "k"), rangeArgs
	inRange, _ = cfg.dialect.keyRange(cfg.prefix, 2)
	c.sweep = cfg.dialect.deleteBatch(t, "exp <> 0 AND exp <= "+cfg.dialect.placeholders(1, 1)+" AND "+inRange, "exp, k")
	if cfg.createTable {
		err := within(ctx, c.timeout, func(ctx context.Context) error { return createTable(ctx, db, cfg.dialect, c.sql.create) })
		if err != nil {
			return nil, fmt.Errorf("sqlcache: create table %s: %w", cfg.table, err)
		}
	}
	if cfg.dialect == MySQL {
		// A statement larger than max_allowed_packet fails with error
		// 1153 and breaks its connection; refuse such values before
		// sending them. The margin covers the key and the packet
		// headers.
		var packet int
		err := within(ctx, c.timeout, func(ctx context.Context) error {
			return db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&packet)
		})
		if err != nil {
			return nil, fmt.Errorf("sqlcache: read max_allowed_packet: %w", err)
		}
		c.maxValue = packet - maxKeyLen - 1024
	}
	// Prepared once, the single-key statements cost one round trip per
	// call on every driver (go-sql-driver/mysql would otherwise prepare
	// and close a statement around each query).
	texts := []string{c.sql.set, c.sql.add, c.sql.get, c.sql.has, c.sql.del, c.sql.read, c.sql.swap}
	for i, st := range c.st.all() {
		err := within(ctx, c.timeout, func(ctx context.Context) (err error) {
			*st, err = db.PrepareContext(ctx, texts[i])
			return err
		})
		if err != nil {
			c.closeStmts()
			return nil, fmt.Errorf("sqlcache: table %s: prepare %q: %w", cfg.table, texts[i], err)
		}
	}
	return c, nil
}

// within calls f with ctx bounded by d: New bounds each of its steps, and
// Clear and DeleteExpired each statement, as a call is bounded.
func within(ctx context.Context, d time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := calltimeout.Bound(ctx, d)
	defer cancel()
	return f(ctx)
}

// newConfig applies opts to the defaults and checks the table name and the
// prefix, which open does too before it opens a database.
func newConfig(opts []Option) (config, error) {
	cfg := config{table: DefaultTable, createTable: true, timeout: calltimeout.Default}
	for _, o := range opts {
		o(&cfg)
	}
	if err := calltimeout.Check("sqlcache", cfg.timeout); err != nil {
		return cfg, err
	}
	if !identifier.MatchString(cfg.table) {
		return cfg, fmt.Errorf("sqlcache: table name %q: want letters, digits and underscores, not starting with a digit, at most 59 bytes", cfg.table)
	}
	if len(cfg.prefix) > MaxPrefixLen {
		return cfg, fmt.Errorf("sqlcache: prefix of %d bytes, at most %d allowed", len(cfg.prefix), MaxPrefixLen)
	}
	return cfg, nil
}

// createTable runs the statements that create the table and its index, in
// one transaction. PostgreSQL's CREATE ... IF NOT EXISTS is not safe against
// a concurrent creator of the same name (both pass the check, one fails on
// a unique index of the catalog), so there the statements hold a
// transaction-scoped advisory lock named after them first.
func createTable(ctx context.Context, db *sql.DB, d Dialect, create []string) error {
	return inTx(ctx, db, func(conn *sql.Conn) error {
		if d == Postgres {
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", create[0]); err != nil {
				return err
			}
		}
		for _, q := range create {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// inTx runs f in a transaction on a connection of its own, with BEGIN and
// COMMIT sent as statements, which ctx bounds like any other:
// go-sql-driver/mysql does not watch the context of (*sql.Tx).Commit, which
// then waits for as long as a server that stopped answering makes it.
// Unless the COMMIT succeeds, the connection is discarded rather than put
// back in the pool, perhaps in the middle of the transaction; closing it
// rolls back what was not committed. So only the error of the COMMIT
// itself can be uncertain.
func inTx(ctx context.Context, db *sql.DB, f func(conn *sql.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err = conn.ExecContext(ctx, "BEGIN"); err == nil {
		err = f(conn)
	}
	if err == nil {
		// Every statement of the transaction succeeded, so COMMIT
		// commits or fails with an error. unsent explains why its
		// errors cannot be taken for unsent.
		if _, err = conn.ExecContext(ctx, "COMMIT"); err == nil {
			return nil
		}
		if !refused(err) {
			err = uncertain.Wrap(err)
		}
	}
	conn.Raw(func(any) error { return driver.ErrBadConn })
	return err
}

// keyRange returns the condition on k that selects every key starting with
// prefix, with placeholders numbered from first, and its arguments:
// k >= prefix AND k < the first byte string after all of them, which an
// index on k answers as a range.
func (d Dialect) keyRange(prefix string, first int) (string, []any) {
	if prefix == "" {
		return "1 = 1", nil
	}
	lo := []byte(prefix)
	hi := []byte(prefix)
	for len(hi) > 0 && hi[len(hi)-1] == 0xFF {
		hi = hi[:len(hi)-1]
	}
	if len(hi) == 0 { // only 0xFF bytes: nothing sorts after the range
		return "k >= " + d.placeholders(first, 1), []any{lo}
	}
	hi[len(hi)-1]++
	return "k >= " + d.placeholders(first, 1) + " AND k < " + d.placeholders(first+1, 1), []any{lo, hi}
}

// Close releases the adapter's prepared statements. It does not close a
// *sql.DB given to New, which belongs to the caller; it closes the one that
// cache.Open opened. Close is idempotent; afterwards every method returns
// cache.ErrClosed.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.closeStmts()
	if c.ownsDB {
		err = errors.Join(err, c.db.Close())
	}
	return err
}

func (c *Cache) closeStmts() error {
	var errs []error
	for _, st := range c.st.all() {
		if *st != nil {
			errs = append(errs, (*st).Close())
		}
	}
	return errors.Join(errs...)
}

// open checks the context and takes the shared lock; the caller must call
// c.mu.RUnlock when it returns nil.
func (c *Cache) open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return cache.ErrClosed
	}
	return nil
}

// begin starts a call: it does what open does, and returns ctx bounded by
// the Cache's timeout and the function that ends the call, which the
// caller defers.
func (c *Cache) begin(ctx context.Context) (context.Context, func(), error) {
	if err := c.open(ctx); err != nil {
		return ctx, func() {}, err
	}
	ctx, cancel := calltimeout.Bound(ctx, c.timeout)
	return ctx, func() { cancel(); c.mu.RUnlock() }, nil
}

// changed returns how many rows a statement that changes rows changed,
// from what ExecContext returned. Its error matches cache.ErrUncertain
// unless the statement certainly changed nothing.
func changed(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, failWrite(err)
	}
	n, err := res.RowsAffected()
	// The statement was applied, but to how many rows is unknown.
	return n, uncertain.Wrap(err)
}

// failWrite returns err, the error of a statement that changes rows, made
// to match cache.ErrUncertain unless the database refused the statement or
// the statement never reached it.
func failWrite(err error) error {
	if refused(err) || unsent(err) {
		return err
	}
	return uncertain.Wrap(err)
}

// refused reports whether err is the database's error reply to a
// statement, which then changed nothing (a COMMIT that fails rolls back),
// unless it says that the database is closing the connection (SQLSTATE
// class 08, or 57P: an administrator's or a crash's shutdown), which can
// happen between a commit and its reply.
func refused(err error) bool {
	var state interface{ SQLState() string }
	if errors.As(err, &state) && (strings.HasPrefix(state.SQLState(), "08") || strings.HasPrefix(state.SQLState(), "57P")) {
		return false
	}
	return is(err, databaseErrors)
}

// unsent reports whether err says that the statement never reached the
// database: database/sql could get no connection, or the driver returned
// driver.ErrBadConn, which go-sql-driver/mysql and modernc.org/sqlite do
// only when nothing was sent (database/sql then tries another connection,
// up to three times), or the error says so itself (pgx's SafeToRetry, a
// failure to connect). pgx (v5.12) breaks the rule for a statement without
// arguments, which it sends with the simple protocol: when the reply is
// lost, it reports the connection it closed as safe to retry, and
// database/sql sends the statement again. The adapter's only such
// statements are Clear's DELETE without a prefix, which may run twice, and
// inTx's BEGIN and COMMIT, whose errors it does not take for unsent.
func unsent(err error) bool {
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		is(err, connectErrors) || uncertain.Unsent(err)
}

// errType names the type of an error by its package path (a prefix of it,
// so that any major version matches) and its name, so that this package
// need not import the drivers whose errors it tells apart.
type errType struct{ pkg, name string }

// databaseErrors are the types of the errors that the drivers Dialect
// knows return for the database's error reply.
var databaseErrors = []errType{
	{"github.com/jackc/pgx", "PgError"},
	{"github.com/lib/pq", "Error"},
	{"github.com/go-sql-driver/mysql", "MySQLError"},
	{"modernc.org/sqlite", "Error"},
	{"github.com/mattn/go-sqlite3", "Error"},
}

// connectErrors are the types of the errors of drivers that failed to open
// a connection, before any statement could be sent on it.
var connectErrors = []errType{{"github.com/jackc/pgx", "ConnectError"}}

// is reports whether err, or an error it wraps, is of one of types.
func is(err error, types []errType) bool {
	for err != nil {
		t := reflect.TypeOf(err)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for _, et := range types {
			if t.Name() == et.name && strings.HasPrefix(t.PkgPath(), et.pkg) {
				return true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			return slices.ContainsFunc(u.Unwrap(), func(err error) bool { return is(err, types) })
		default:
			return false
		}
	}
	return false
}

// key returns the stored form of key (see the package documentation). Its
// result is never nil, which drivers would send as NULL.
func (c *Cache) key(key string) []byte {
	if len(c.prefix)+len(key) <= maxKeyLen && (key == "" || key[0] != hashMark) {
		return append(append(make([]byte, 0, len(c.prefix)+len(key)), c.prefix...), key...)
	}
	sum := sha256.Sum256([]byte(key))
	b := append(make([]byte, 0, len(c.prefix)+1+len(sum)), c.prefix...)
	return append(append(b, hashMark), sum[:]...)
}

// value returns v ready to bind: never nil, which drivers would send as NULL.
func value(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

func now() int64 { return time.Now().UnixMilli() }

// expiry returns the exp column of an entry written now with ttl: 0 for
// none, or the Unix millisecond at which it expires, rounded up so that the
// entry lives at least ttl.
func expiry(ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	ns := time.Now().Add(cache.RoundTTL(ttl, Resolution)).UnixNano()
	ms := ns / int64(time.Millisecond)
	if ns%int64(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

func expired(exp, now int64) bool { return exp != 0 && exp <= now }

func (c *Cache) wrap(op, key string, err error) error {
	if len(key) > 64 {
		key = key[:64] + "..."
	}
	return fmt.Errorf("sqlcache: %s %q: %w", op, key, err)
}

// check refuses a negative ttl and a value larger than the database
// accepts, before anything is sent.
func (c *Cache) check(key string, v []byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	if c.maxValue > 0 && len(v) > c.maxValue {
		return c.wrap("store", key, fmt.Errorf("%w: %d bytes, at most %d with this server's max_allowed_packet",
			cache.ErrTooLarge, len(v), c.maxValue))
	}
	return nil
}

// Get returns the value stored under key.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := c.get(ctx, key)
	return v, err
}

// GetWithTTL returns the value stored under key and the time it has left to
// live, 0 meaning that it never expires, from the same single query as Get;
// it makes the Cache a cache.TTLGetter, so a cache.Chain fills faster layers
// with the TTL that is left.
//
// The time left is rounded down as cache.TTLLeft says.
func (c *Cache) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	v, ms, err := c.get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	var exp time.Time
	if ms != 0 {
		exp = time.UnixMilli(ms)
	}
	left, ok := cache.TTLLeft(exp, Resolution)
	if !ok {
		return nil, 0, c.wrap("get", key, cache.ErrNotFound)
	}
	return v, left, nil
}

// get runs the get statement for Get and GetWithTTL: the value of the row
// that is live now, and its exp column.
func (c *Cache) get(ctx context.Context, key string) ([]byte, int64, error) {
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return nil, 0, err
	}
	var v []byte
	var exp int64
	err = c.st.get.QueryRowContext(ctx, c.key(key), now()).Scan(&v, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, c.wrap("get", key, cache.ErrNotFound)
	}
	if err != nil {
		return nil, 0, c.wrap("get", key, err)
	}
	return value(v), exp, nil
}

// Has reports whether key has an unexpired entry.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return false, err
	}
	var one int
	err = c.st.has.QueryRowContext(ctx, c.key(key), now()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, c.wrap("has", key, err)
	}
	return true, nil
}

// Set stores value under key with one upsert.
func (c *Cache) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if err := c.check(key, v, ttl); err != nil {
		return err
	}
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return err
	}
	if _, err := changed(c.st.set.ExecContext(ctx, c.key(key), value(v), expiry(ttl))); err != nil {
		return c.wrap("set", key, err)
	}
	return nil
}

// Add stores value under key when it has no unexpired entry, with one
// upsert that replaces an expired row but leaves a live one alone.
func (c *Cache) Add(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	if err := c.check(key, v, ttl); err != nil {
		return false, err
	}
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return false, err
	}
	added, err := c.add(ctx, c.key(key), value(v), expiry(ttl), now())
	if err != nil {
		return false, c.wrap("add", key, err)
	}
	return added, nil
}

func (c *Cache) add(ctx context.Context, k, v []byte, exp, now int64) (bool, error) {
	args := []any{k, v, exp, now}
	if c.dialect == MySQL {
		args = append(args, now) // the expiry test appears twice
	}
	n, err := changed(c.st.add.ExecContext(ctx, args...))
	return n > 0, err
}

// Delete removes key and reports whether an unexpired entry existed. An
// expired row is left for DeleteExpired.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return false, err
	}
	n, err := changed(c.st.del.ExecContext(ctx, c.key(key), now()))
	if err != nil {
		return false, c.wrap("delete", key, err)
	}
	return n > 0, nil
}

// Increment adds delta to the counter under key; see the package
// documentation for how it stays atomic.
func (c *Cache) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return 0, err
	}
	n, err := c.increment(ctx, c.key(key), delta)
	if err != nil {
		return 0, c.wrap("increment", key, err)
	}
	return n, nil
}

// increment tries again only when its last write certainly changed
// nothing: the row it read had changed, or another writer created it.
func (c *Cache) increment(ctx context.Context, k []byte, delta int64) (int64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t := now()
		var old []byte
		var exp int64
		err := c.st.read.QueryRowContext(ctx, k).Scan(&old, &exp)
		if errors.Is(err, sql.ErrNoRows) || err == nil && expired(exp, t) {
			// A new counter never expires. If another writer
			// created a live row meanwhile, start over with it.
			added, err := c.add(ctx, k, cache.FormatInt(delta), 0, t)
			if err != nil || added {
				return delta, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		n, err := cache.ParseInt(old)
		if err != nil {
			return 0, err
		}
		sum, err := cache.AddInt(n, delta)
		if err != nil || delta == 0 {
			return sum, err
		}
		swapped, err := changed(c.st.swap.ExecContext(ctx, cache.FormatInt(sum), k, old, exp))
		if err != nil || swapped > 0 {
			return sum, err
		}
	}
}

// GetMany returns the hits among keys, with one query per 500 keys.
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return nil, err
	}
	hits := make(map[string][]byte, len(keys))
	for chunk := range batches(keys) {
		if err := c.getMany(ctx, chunk, hits); err != nil {
			return nil, fmt.Errorf("sqlcache: get many: %w", err)
		}
	}
	return hits, nil
}

func (c *Cache) getMany(ctx context.Context, keys []string, hits map[string][]byte) error {
	q, args, byStored := c.inList(c.sql.getIn, keys)
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if key, ok := byStored[string(k)]; ok {
			hits[key] = value(v)
		}
	}
	return rows.Err()
}

// inList completes query (which ends with "IN (" and takes the current time
// as its first argument) with the stored forms of keys, and returns the map
// from each stored key back to the key.
func (c *Cache) inList(query string, keys []string) (string, []any, map[string]string) {
	args := make([]any, 1, 1+len(keys))
	args[0] = now()
	byStored := make(map[string]string, len(keys))
	for _, key := range keys {
		k := c.key(key)
		if _, dup := byStored[string(k)]; dup {
			continue
		}
		byStored[string(k)] = key
		args = append(args, k)
	}
	return query + c.dialect.placeholders(2, len(args)-1) + ")", args, byStored
}

// batches yields keys in chunks of at most batchSize.
func batches(keys []string) func(yield func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(keys) > 0 {
			n := min(len(keys), batchSize)
			if !yield(keys[:n]) {
				return
			}
			keys = keys[n:]
		}
	}
}

// SetMany stores every item with the same ttl, in one transaction: either
// every item is stored or none is.
func (c *Cache) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if err := cache.CheckTTL(ttl); err != nil {
		return err
	}
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	for key, v := range items {
		if err := c.check(key, v, ttl); err != nil {
			return err
		}
	}
	// Rows are written in key order, so that concurrent SetMany
	// transactions take their row locks in the same order and cannot
	// deadlock on one another (InnoDB reports such a deadlock as error
	// 1213 and rolls one back).
	keys := slices.Collect(maps.Keys(items))
	stored := make(map[string][]byte, len(keys))
	for _, key := range keys {
		stored[key] = c.key(key)
	}
	slices.SortFunc(keys, func(a, b string) int { return bytes.Compare(stored[a], stored[b]) })
	exp := expiry(ttl)
	err = inTx(ctx, c.db, func(conn *sql.Conn) error {
		st, err := conn.PrepareContext(ctx, c.sql.set)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, key := range keys {
			if _, err := st.ExecContext(ctx, stored[key], value(items[key]), exp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlcache: set many: %w", err)
	}
	return nil
}

// DeleteMany removes keys and reports how many unexpired entries existed,
// with one statement per 500 keys.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int, error) {
	ctx, end, err := c.begin(ctx)
	defer end()
	if err != nil {
		return 0, err
	}
	deleted := 0
	for chunk := range batches(keys) {
		q, args, _ := c.inList(c.sql.delIn, chunk)
		n, err := changed(c.db.ExecContext(ctx, q, args...))
		if err != nil {
			return deleted, fmt.Errorf("sqlcache: delete many: %w", partly(err, deleted))
		}
		deleted += int(n)
	}
	return deleted, nil
}

// partly returns err, the error of a statement of a call whose earlier
// statements changed done rows, made to match cache.ErrUncertain if they
// did: the call has been applied in part.
func partly(err error, done int) error {
	if done > 0 {
		return uncertain.Wrap(err)
	}
	return err
}

// Clear deletes every row under the prefix, or every row of the table when
// there is no prefix, in batches.
func (c *Cache) Clear(ctx context.Context) error {
	if err := c.open(ctx); err != nil {
		return err
	}
	defer c.mu.RUnlock()
	if _, err := c.deleteBatches(ctx, c.clear, c.rangeArgs...); err != nil {
		return fmt.Errorf("sqlcache: clear: %w", err)
	}
	return nil
}

// DeleteExpired deletes the expired rows under the prefix (of the whole
// table without one) in batches, which the index on exp finds.
func (c *Cache) DeleteExpired(ctx context.Context) (int, error) {
	if err := c.open(ctx); err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	n, err := c.deleteBatches(ctx, c.sweep, append([]any{now()}, c.rangeArgs...)...)
	if err != nil {
		return n, fmt.Errorf("sqlcache: delete expired: %w", err)
	}
	return n, nil
}

// deleteBatches runs q, which deletes at most batchSize rows, until it
// deletes fewer, each time bounded by the Cache's timeout, so that a large
// table takes as many statements as it needs while a database that stops
// answering still ends the call. It returns how many rows it deleted.
func (c *Cache) deleteBatches(ctx context.Context, q string, args ...any) (int, error) {
	deleted := 0
	for {
		var n int64
		err := within(ctx, c.timeout, func(ctx context.Context) (err error) {
			n, err = changed(c.db.ExecContext(ctx, q, args...))
			return err
		})
		if err != nil {
			return deleted, partly(err, deleted)
		}
		deleted += int(n)
		if n < batchSize {
			return deleted, nil
		}
	}
}
