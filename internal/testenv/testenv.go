// Package testenv finds the real servers that adapter tests run against.
//
// Each server has an environment variable with a default address on
// 127.0.0.1 (see the README); scripts/services.sh starts them all. When a
// server cannot be reached, a test is skipped with a message naming that
// command, except in CI (CI=true), where a missing server fails the run.
package testenv

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// StartHint is the command that starts every test server.
const StartHint = "scripts/services.sh start"

// Addrs returns the comma-separated addresses in the environment variable
// env, or def when it is unset, after checking that each accepts TCP
// connections.
func Addrs(t testing.TB, env, def string) []string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		v = def
	}
	addrs := strings.Split(v, ",")
	for _, a := range addrs {
		conn, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			Unavailable(t, "%s (%s=%s) is not reachable: %v", a, env, v, err)
		}
		conn.Close()
	}
	return addrs
}

// Addr is Addrs for a single address.
func Addr(t testing.TB, env, def string) string {
	t.Helper()
	return Addrs(t, env, def)[0]
}

// DSN returns the data source name in the environment variable env, or def
// when it is unset, after checking that the server at the host:port that
// addr finds in it accepts TCP connections. A DSN that addr cannot read
// fails the test.
func DSN(t testing.TB, env, def string, addr func(dsn string) (string, error)) string {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		dsn = def
	}
	a, err := addr(dsn)
	if err != nil {
		t.Fatalf("%s: cannot find the server's address in %q: %v", env, dsn, err)
	}
	conn, err := net.DialTimeout("tcp", a, 2*time.Second)
	if err != nil {
		Unavailable(t, "%s (%s=%s) is not reachable: %v", a, env, dsn, err)
	}
	conn.Close()
	return dsn
}

// Unavailable fails the test in CI and skips it elsewhere, pointing at the
// command that starts the servers.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("test server missing in CI: "+format, args...)
	}
	t.Skipf("skipped: "+format+"; start the test servers with: "+StartHint, args...)
}

// InCI reports whether the tests run in CI, where nothing may be skipped
// for want of a server.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "0" && v != "false"
}
