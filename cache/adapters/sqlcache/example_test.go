package sqlcache_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	_ "modernc.org/sqlite"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sqlcache-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// One connection: SQLite has one writer at a time, and the busy
	// timeout covers other processes using the same file.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "cache.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		panic(err)
	}
	defer db.Close() // the adapter never closes the caller's *sql.DB
	db.SetMaxOpenConns(1)

	// The dialect is detected from the driver; the table is created.
	sc, err := sqlcache.New(ctx, db, sqlcache.WithTable("cache"), sqlcache.WithPrefix("example:"))
	if err != nil {
		panic(err)
	}
	defer sc.Close()

	type user struct{ Name string }
	users := cache.New[user](sc, cache.WithDefaultTTL(time.Minute))
	if err := users.Set(ctx, "user:1", user{Name: "Ada"}); err != nil {
		panic(err)
	}
	u, err := users.Get(ctx, "user:1")
	fmt.Println(u.Name, err)
	_, err = users.Get(ctx, "user:2")
	fmt.Println(errors.Is(err, cache.ErrNotFound))

	n, err := cache.Increment(ctx, sc, "visits", 1)
	fmt.Println(n, err)

	// Expired rows stay in the table, invisible, until swept.
	_ = sc.Set(ctx, "short", []byte("x"), time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	swept, err := sc.DeleteExpired(ctx)
	fmt.Println(swept, err)
	// Output:
	// Ada <nil>
	// true
	// 1 <nil>
	// 1 <nil>
}

// Against PostgreSQL through pgx (scripts/services.sh starts a server on
// 127.0.0.1:55432), so it is compiled but not run by go test.
func ExampleNew_postgres() {
	ctx := context.Background()
	db, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:55432/cachetest?sslmode=disable")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	sessions, err := sqlcache.New(ctx, db, sqlcache.WithTable("sessions"))
	if err != nil {
		panic(err)
	}
	defer sessions.Close()
	added, err := sessions.Add(ctx, "lock:job-42", []byte("worker-1"), 30*time.Second)
	fmt.Println(added, err)
}
