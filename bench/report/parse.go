package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Results is one `go test -bench` run: the configuration lines that name the
// machine and every benchmark with the values of its repeated runs.
type Results struct {
	// Config holds the last value of each `key: value` header line (goos,
	// goarch, cpu, pkg, ...).
	Config map[string]string
	// Benchmarks is keyed by name without the -PROCS suffix.
	Benchmarks map[string]*Benchmark
}

// Benchmark is every run of one benchmark in the input.
type Benchmark struct {
	// Name is the full name without the -PROCS suffix, e.g.
	// "BenchmarkSQLGet/postgres/sqlcache".
	Name string
	// Procs is GOMAXPROCS as the suffix gives it (1 when there is none,
	// as go test prints no suffix then).
	Procs int
	// Runs is the number of result lines.
	Runs int
	// values holds, per unit, the value of every run in input order.
	values map[string][]float64
	// line is the input line of the first run, to point errors at.
	line int
}

// Stat summarises the runs of one benchmark in one unit.
type Stat struct {
	Median, Min, Max float64
}

// Spread is the largest distance of one run from the median, relative to
// the median: what benchstat's "±" shows for a handful of runs.
func (s Stat) Spread() float64 {
	if s.Median == 0 {
		return 0
	}
	return math.Max(s.Max-s.Median, s.Median-s.Min) / s.Median
}

// Stat returns the median, minimum and maximum of unit over the runs; ok is
// false when the benchmark did not report unit.
func (b *Benchmark) Stat(unit string) (s Stat, ok bool) {
	v, ok := b.values[unit]
	if !ok {
		return Stat{}, false
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	s = Stat{Min: v[0], Max: v[n-1], Median: v[n/2]}
	if n%2 == 0 {
		s.Median = (v[n/2-1] + v[n/2]) / 2
	}
	return s, true
}

// configKeys are the header lines that must not change within one input:
// a report mixing machines would compare figures that are not comparable.
var configKeys = []string{"goos", "goarch", "cpu"}

// Parse reads the text format of `go test -bench` (see
// https://go.dev/design/14313-benchmark-format): `key: value` configuration
// lines and result lines `BenchmarkName[-PROCS] N value unit [value unit...]`.
// Other lines (PASS, ok, test output) are skipped, except FAIL lines: a
// report must not be made from a failed run. A result line that does not
// parse is an error naming its line number.
func Parse(r io.Reader) (*Results, error) {
	res := &Results{Config: map[string]string{}, Benchmarks: map[string]*Benchmark{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Benchmark"):
			if err := res.addResult(line, n); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		case line == "FAIL" || strings.HasPrefix(line, "FAIL\t") || strings.HasPrefix(line, "--- FAIL"):
			return nil, fmt.Errorf("line %d: the run failed (%q); make the report from a run that passed", n, line)
		default:
			if err := res.addConfig(line, n); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(res.Benchmarks) == 0 {
		return nil, fmt.Errorf("no benchmark results (lines `BenchmarkName N value ns/op ...`)")
	}
	return res, nil
}

// addConfig records a `key: value` line; a key is a lower-case word without
// spaces, which keeps test output such as "    x_test.go:12: msg" out.
func (res *Results) addConfig(line string, n int) error {
	key, value, ok := strings.Cut(line, ":")
	if !ok || key == "" || strings.ContainsAny(key, " \t") || strings.ToLower(key) != key {
		return nil
	}
	value = strings.TrimSpace(value)
	if old, seen := res.Config[key]; seen && old != value && slices.Contains(configKeys, key) {
		return fmt.Errorf("%s changes from %q to %q: the input must be one run on one machine", key, old, value)
	}
	res.Config[key] = value
	return nil
}

// addResult parses one result line. A line holding only a name is what go
// test prints before a benchmark's log output, so it is skipped.
func (res *Results) addResult(line string, n int) error {
	f := strings.Fields(line)
	if len(f) == 1 {
		return nil
	}
	name, procs := splitProcs(f[0])
	if iters, err := strconv.ParseInt(f[1], 10, 64); err != nil || iters <= 0 {
		return fmt.Errorf("%s: iteration count %q is not a positive integer", f[0], f[1])
	}
	pairs := f[2:]
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return fmt.Errorf("%s: want value-unit pairs after the iteration count, got %q", f[0], strings.Join(pairs, " "))
	}
	vals := make(map[string]float64, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		v, err := strconv.ParseFloat(pairs[i], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: value %q of %s is not a number", f[0], pairs[i], pairs[i+1])
		}
		if _, dup := vals[pairs[i+1]]; dup {
			return fmt.Errorf("%s: unit %s appears twice", f[0], pairs[i+1])
		}
		vals[pairs[i+1]] = v
	}
	if _, ok := vals["ns/op"]; !ok {
		return fmt.Errorf("%s: no ns/op value", f[0])
	}
	b := res.Benchmarks[name]
	if b == nil {
		b = &Benchmark{Name: name, Procs: procs, values: map[string][]float64{}, line: n}
		res.Benchmarks[name] = b
	}
	if b.Procs != procs {
		return fmt.Errorf("%s ran with GOMAXPROCS %d at line %d and %d here (a -cpu list); the report needs one", name, b.Procs, b.line, procs)
	}
	if b.Runs > 0 && len(vals) != len(b.values) {
		return fmt.Errorf("%s reports other units than at line %d", f[0], b.line)
	}
	for unit, v := range vals {
		if b.Runs > 0 && b.values[unit] == nil {
			return fmt.Errorf("%s reports other units than at line %d", f[0], b.line)
		}
		b.values[unit] = append(b.values[unit], v)
	}
	b.Runs++
	return nil
}

// splitProcs splits "BenchmarkX/sub-8" into "BenchmarkX/sub" and 8. go test
// appends -PROCS only when GOMAXPROCS is not 1.
func splitProcs(s string) (string, int) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return s, 1
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil || p <= 0 || s[i+1] == '+' {
		return s, 1
	}
	return s[:i], p
}
