package sqlcache_test

import (
	"crypto/sha256"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
)

// eachBackend runs f on a database of every dialect whose server is up.
func eachBackend(t *testing.T, f func(t *testing.T, db *sql.DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b.open(t))
		})
	}
}

// Keys too long for the key column, or starting with the byte that marks a
// hashed key, are stored as their SHA-256: they round-trip, and never meet a
// key stored as is, even one spelling out that very hash.
func TestHashedKeys(t *testing.T) {
	long := strings.Repeat("0123456789", 1000)
	sum := sha256.Sum256([]byte(long))
	keys := []string{
		long, long + "x", strings.Repeat("k", 2048), strings.Repeat("k", 2049),
		"\xff", "\xffk", "\xff" + string(sum[:]), string(sum[:]),
	}
	eachBackend(t, func(t *testing.T, db *sql.DB) {
		for _, prefix := range []string{"", "p:", strings.Repeat("\xff", sqlcache.MaxPrefixLen)} {
			c := newCache(t, db, sqlcache.WithTable(newTable(t, db)), sqlcache.WithPrefix(prefix))
			ctx := t.Context()
			for i, k := range keys {
				must(t, c.Set(ctx, k, []byte{byte(i)}, 0))
			}
			hits, err := c.GetMany(ctx, keys)
			must(t, err)
			for i, k := range keys {
				if v, err := c.Get(ctx, k); err != nil || len(v) != 1 || v[0] != byte(i) {
					t.Fatalf("prefix %d bytes, key %d: Get = %v, %v; want [%d]", len(prefix), i, v, err, i)
				}
				if v := hits[k]; len(v) != 1 || v[0] != byte(i) {
					t.Fatalf("prefix %d bytes, key %d: GetMany = %v; want [%d]", len(prefix), i, v, i)
				}
			}
			n, err := c.DeleteMany(ctx, keys)
			if err != nil || n != len(keys) {
				t.Fatalf("DeleteMany = %d, %v; want %d", n, err, len(keys))
			}
		}
	})
}

// Clear deletes a key range, so prefixes with LIKE wildcards or 0xFF bytes
// clear exactly their own keys.
func TestClearPrefixes(t *testing.T) {
	prefixes := []string{"a%", "ab", "a_", "a\\", "\xff\xff", "\xff\xfe", "\xff\xff\x00"}
	eachBackend(t, func(t *testing.T, db *sql.DB) {
		table := newTable(t, db)
		caches := make([]*sqlcache.Cache, len(prefixes))
		for i, p := range prefixes {
			caches[i] = newCache(t, db, sqlcache.WithTable(table), sqlcache.WithPrefix(p))
			must(t, caches[i].Set(t.Context(), "k", []byte(p), 0))
		}
		for i, c := range caches {
			must(t, c.Clear(t.Context()))
			for j, other := range caches {
				_, err := other.Get(t.Context(), "k")
				// "\xff\xff" is a byte prefix of "\xff\xff\x00": clearing
				// it takes the longer prefix's keys too, as it would in
				// Redis.
				gone := j <= i || i >= 4 && j == 6
				if gone != errors.Is(err, cache.ErrNotFound) {
					t.Fatalf("after Clear of prefix %q, Get under %q = %v", prefixes[i], prefixes[j], err)
				}
			}
		}
	})
}

func TestNew(t *testing.T) {
	db := openSQLite(t)
	for _, name := range []string{"", "1abc", "a-b", "a b", "x;DROP TABLE y", `a"b`, strings.Repeat("t", 60)} {
		if _, err := sqlcache.New(t.Context(), db, sqlcache.WithTable(name)); err == nil {
			t.Errorf("New accepted the table name %q", name)
		}
	}
	if _, err := sqlcache.New(t.Context(), db, sqlcache.WithPrefix(strings.Repeat("p", sqlcache.MaxPrefixLen+1))); err == nil {
		t.Error("New accepted a prefix longer than MaxPrefixLen")
	}
	if _, err := sqlcache.New(t.Context(), db, sqlcache.WithTable("missing"), sqlcache.WithoutCreateTable()); err == nil {
		t.Error("New with WithoutCreateTable succeeded on a missing table")
	}
	if _, err := sqlcache.New(t.Context(), nil); err == nil {
		t.Error("New accepted a nil *sql.DB")
	}
	// The dialect comes from the driver; given, it must match.
	c := newCache(t, db, sqlcache.WithTable("t1"))
	must(t, c.Close())
	c = newCache(t, db, sqlcache.WithTable("t1"), sqlcache.WithDialect(sqlcache.SQLite), sqlcache.WithoutCreateTable())
	// Close leaves the caller's database open.
	must(t, c.Close())
	must(t, db.PingContext(t.Context()))
	if _, err := c.Get(t.Context(), "k"); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("Get after Close = %v, want cache.ErrClosed", err)
	}
}

// A value larger than MariaDB's max_allowed_packet (16 MiB by default) is
// refused with cache.ErrTooLarge, and the previous value stays.
func TestMySQLTooLarge(t *testing.T) {
	db := openMySQL(t)
	c := newCache(t, db, sqlcache.WithTable(newTable(t, db)))
	var limit int
	must(t, db.QueryRowContext(t.Context(), "SELECT @@max_allowed_packet").Scan(&limit))
	must(t, c.Set(t.Context(), "k", []byte("old"), 0))
	err := c.Set(t.Context(), "k", make([]byte, limit+1), 0)
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set of %d bytes = %v, want cache.ErrTooLarge", limit+1, err)
	}
	if v, err := c.Get(t.Context(), "k"); err != nil || string(v) != "old" {
		t.Fatalf("Get after a refused Set = %q, %v; want \"old\"", v, err)
	}
}
