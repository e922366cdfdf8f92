package main

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, in string) *Results {
	t.Helper()
	res, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func stat(t *testing.T, res *Results, name, unit string) Stat {
	t.Helper()
	b := res.Benchmarks[name]
	if b == nil {
		t.Fatalf("no benchmark %q in %v", name, res.Benchmarks)
	}
	s, ok := b.Stat(unit)
	if !ok {
		t.Fatalf("%s has no %s", name, unit)
	}
	return s
}

func TestParseMediansOverRuns(t *testing.T) {
	res := mustParse(t, `goos: linux
goarch: amd64
pkg: example.com/bench
cpu: Test CPU @ 1GHz
BenchmarkGet/postgres/sqlcache-4    	  100	  30 ns/op	 5 B/op	 1 allocs/op
BenchmarkGet/postgres/sqlcache-4    	  100	  10 ns/op	 7 B/op	 2 allocs/op
BenchmarkGet/postgres/sqlcache-4    	  100	  20 ns/op	 9 B/op	 2 allocs/op
BenchmarkPaired/Get/100ms-deadline-4	   10	1000 ns/op	 2.5 ours/raw	 64 B/op	 3 allocs/op
BenchmarkPaired/Get/100ms-deadline-4	   10	4000 ns/op	 3.5 ours/raw	 64 B/op	 3 allocs/op
BenchmarkOneProc	    5	   7.5 ns/op
PASS
ok  	example.com/bench	1.5s
`)
	for _, c := range []struct {
		name, unit       string
		median, min, max float64
	}{
		{"BenchmarkGet/postgres/sqlcache", "ns/op", 20, 10, 30},
		{"BenchmarkGet/postgres/sqlcache", "B/op", 7, 5, 9},
		{"BenchmarkGet/postgres/sqlcache", "allocs/op", 2, 1, 2},
		{"BenchmarkPaired/Get/100ms-deadline", "ns/op", 2500, 1000, 4000},
		{"BenchmarkPaired/Get/100ms-deadline", "ours/raw", 3, 2.5, 3.5},
		{"BenchmarkOneProc", "ns/op", 7.5, 7.5, 7.5},
	} {
		if got := stat(t, res, c.name, c.unit); got != (Stat{c.median, c.min, c.max}) {
			t.Errorf("%s %s = %+v, want median %v min %v max %v", c.name, c.unit, got, c.median, c.min, c.max)
		}
	}
	for name, want := range map[string][2]int{
		"BenchmarkGet/postgres/sqlcache":     {3, 4},
		"BenchmarkPaired/Get/100ms-deadline": {2, 4},
		"BenchmarkOneProc":                   {1, 1},
	} {
		if b := res.Benchmarks[name]; b.Runs != want[0] || b.Procs != want[1] {
			t.Errorf("%s: runs %d procs %d, want %v", name, b.Runs, b.Procs, want)
		}
	}
	if len(res.Benchmarks) != 3 {
		t.Errorf("benchmarks %v, want 3", res.Benchmarks)
	}
	if res.Config["cpu"] != "Test CPU @ 1GHz" || res.Config["goos"] != "linux" || res.Config["pkg"] != "example.com/bench" {
		t.Errorf("config %v", res.Config)
	}
	if _, ok := res.Benchmarks["BenchmarkOneProc"].Stat("allocs/op"); ok {
		t.Error("BenchmarkOneProc reports allocs/op it never printed")
	}
}

func TestParseSkipsLinesThatAreNotResults(t *testing.T) {
	res := mustParse(t, `BenchmarkLogs
    logs_test.go:12: warming up
BenchmarkLogs-2   	 10	 5 ns/op
--- BENCH: BenchmarkLogs-2
PASS
rc=0
`)
	if b := res.Benchmarks["BenchmarkLogs"]; b == nil || b.Runs != 1 {
		t.Fatalf("BenchmarkLogs = %+v, want one run", b)
	}
	if len(res.Config) != 0 {
		t.Errorf("config %v from lines that are not configuration", res.Config)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "no benchmark results"},
		{"goos: linux\nPASS\n", "no benchmark results"},
		{"goos: linux\nBenchmarkA-2 abc 1 ns/op\n", "line 2: BenchmarkA-2: iteration count"},
		{"BenchmarkA-2 0 1 ns/op\n", "line 1: BenchmarkA-2: iteration count"},
		{"BenchmarkA-2 10\n", "line 1: BenchmarkA-2: want value-unit pairs"},
		{"BenchmarkA-2 10 1 ns/op 5\n", "line 1: BenchmarkA-2: want value-unit pairs"},
		{"BenchmarkA-2 10 fast ns/op\n", `line 1: BenchmarkA-2: value "fast" of ns/op is not a number`},
		{"BenchmarkA-2 10 NaN ns/op\n", "is not a number"},
		{"BenchmarkA-2 10 5 B/op 3 allocs/op\n", "line 1: BenchmarkA-2: no ns/op"},
		{"BenchmarkA-2 10 5 ns/op 6 ns/op\n", "unit ns/op appears twice"},
		{"BenchmarkA-2 10 1 ns/op\nBenchmarkA-4 10 1 ns/op\n", "line 2: BenchmarkA ran with GOMAXPROCS 2 at line 1 and 4 here"},
		{"BenchmarkA-2 10 1 ns/op 2 B/op\nBenchmarkA-2 10 1 ns/op 2 allocs/op\n", "line 2: BenchmarkA-2 reports other units than at line 1"},
		{"BenchmarkA-2 10 1 ns/op 2 B/op\nBenchmarkA-2 10 1 ns/op\n", "line 2: BenchmarkA-2 reports other units"},
		{"cpu: A\nBenchmarkA-2 10 1 ns/op\ncpu: B\n", `line 3: cpu changes from "A" to "B"`},
		{"BenchmarkA-2 10 1 ns/op\n--- FAIL: BenchmarkB-2\n", "line 2: the run failed"},
		{"BenchmarkA-2 10 1 ns/op\nFAIL\texample.com/bench\t1.0s\n", "line 2: the run failed"},
	} {
		_, err := Parse(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

func TestParseAllowsPackageChange(t *testing.T) {
	res := mustParse(t, "pkg: a\nBenchmarkA-2 1 1 ns/op\npkg: b\nBenchmarkB-2 1 1 ns/op\n")
	if res.Config["pkg"] != "b" || len(res.Benchmarks) != 2 {
		t.Errorf("config %v, benchmarks %v", res.Config, res.Benchmarks)
	}
}

func TestSplitProcs(t *testing.T) {
	for in, want := range map[string]struct {
		name  string
		procs int
	}{
		"BenchmarkA-2":        {"BenchmarkA", 2},
		"BenchmarkA/sub/x-16": {"BenchmarkA/sub/x", 16},
		"BenchmarkMemcachedGet/memcachedcache-100ms-2":   {"BenchmarkMemcachedGet/memcachedcache-100ms", 2},
		"BenchmarkMemoryGet/ristretto+copy-2":            {"BenchmarkMemoryGet/ristretto+copy", 2},
		"BenchmarkMemcachedGet/memcachedcache-refresh=0": {"BenchmarkMemcachedGet/memcachedcache-refresh=0", 1},
		"BenchmarkA":    {"BenchmarkA", 1},
		"BenchmarkA-":   {"BenchmarkA-", 1},
		"BenchmarkA-+2": {"BenchmarkA-+2", 1},
		"BenchmarkA-0":  {"BenchmarkA-0", 1},
	} {
		if name, procs := splitProcs(in); name != want.name || procs != want.procs {
			t.Errorf("splitProcs(%q) = %q, %d, want %q, %d", in, name, procs, want.name, want.procs)
		}
	}
}

func TestStatSpread(t *testing.T) {
	for _, c := range []struct {
		s    Stat
		want float64
	}{
		{Stat{Median: 100, Min: 90, Max: 125}, 0.25},
		{Stat{Median: 100, Min: 60, Max: 101}, 0.40},
		{Stat{Median: 5, Min: 5, Max: 5}, 0},
		{Stat{}, 0},
	} {
		if got := c.s.Spread(); got != c.want {
			t.Errorf("%+v.Spread() = %v, want %v", c.s, got, c.want)
		}
	}
}
