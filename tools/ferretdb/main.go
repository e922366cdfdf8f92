// Command ferretdb runs FerretDB v1 as a library, with its SQLite backend,
// as the MongoDB-compatible test server of scripts/services.sh: no MongoDB
// server can be installed on the project's machines, and FerretDB's own
// command needs build metadata that `go build` of it does not produce.
//
// It is a module of its own so that FerretDB's dependencies never enter the
// library's go.mod. It stops cleanly on SIGINT or SIGTERM.
//
// Usage:
//
//	ferretdb -listen-addr 127.0.0.1:27018 -sqlite-url file:/path/to/dir/
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27018", "TCP address to serve the MongoDB wire protocol on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI (file:DIR/), one database file per MongoDB database")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL, for -handler postgresql")
	flag.Parse()
	if err := run(*listen, *handler, *sqliteURL, *pgURL); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, handler, sqliteURL, pgURL string) error {
	if handler == "sqlite" {
		// FerretDB opens database files in the folder but does not create it.
		dir := strings.TrimPrefix(sqliteURL, "file:")
		if i := strings.IndexByte(dir, '?'); i >= 0 {
			dir = dir[:i]
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: listen},
		Handler:       handler,
		SQLiteURL:     sqliteURL,
		PostgreSQLURL: pgURL,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger.Warn("listening", "addr", listen, "handler", handler)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
