package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// committed* are the files the repository holds, seen from this package.
const (
	committedResults = "../../bench/results.txt"
	committedMD      = "../../BENCHMARKS.md"
	committedCharts  = "../charts"
)

// runLines writes one result line per value of ns/op.
func runLines(name string, ns ...float64) string {
	var b strings.Builder
	for _, v := range ns {
		fmt.Fprintf(&b, "%s-2\t100\t%g ns/op\t16 B/op\t1 allocs/op\n", name, v)
	}
	return b.String()
}

// kvInput and kvLayout are a small run and layout whose figures the tests
// know: Get is 2.00x of raw, Set exactly 1.15x, Set near 1.16x, Batch 54x.
var kvInput = "goos: linux\ngoarch: amd64\npkg: example.com/bench\ncpu: Test CPU\n" +
	runLines("BenchmarkGet/ours", 190, 200, 210) +
	runLines("BenchmarkGet/raw", 95, 100, 105) +
	runLines("BenchmarkGet/peer", 120, 150, 250) +
	runLines("BenchmarkSet/ours", 114, 115, 116) +
	runLines("BenchmarkSet/near", 115, 116, 117) +
	runLines("BenchmarkSet/raw", 99, 100, 101) +
	runLines("BenchmarkBatch/one", 10, 10, 10) +
	runLines("BenchmarkBatch/many", 540, 540, 540) +
	runLines("BenchmarkExtra/unused", 1, 1, 1)

func kvLayout() []Section {
	return []Section{{
		Backend: "kv", Title: "kv store", Ours: "kv", Ref: "raw `kv`", Peer: "peer kv",
		Rows: []Row{
			{Label: "Get <&>", Ours: "BenchmarkGet/ours", Ref: "BenchmarkGet/raw", Peer: "BenchmarkGet/peer", Target: 2, Headline: "kv Get"},
			{Label: "Set", Ours: "BenchmarkSet/ours", Ref: "BenchmarkSet/raw", Target: 1.15, Headline: "kv Set"},
			{Label: "Set near", Ours: "BenchmarkSet/near", Ref: "BenchmarkSet/raw", Target: 1.15},
			{Label: "Batch | one call", Ours: "BenchmarkBatch/one", Ref: "BenchmarkBatch/many", RefLabel: "many calls", Speedup: true},
		},
		Notes: `Get is {{ratio "BenchmarkGet/ours" "BenchmarkGet/raw"}} of raw, {{vs "BenchmarkGet/ours" "BenchmarkGet/raw"}};
Set runs took {{span "BenchmarkSet/ours"}}, Get allocates {{allocs "BenchmarkGet/ours"}}.`,
	}}
}

var kvOptions = Options{In: "repo/bench/results.txt", MD: "repo/BENCHMARKS.md", Charts: "repo/bench/charts"}

func generateKV(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := Generate(mustParse(t, kvInput), kvLayout(), kvOptions)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[filepath.ToSlash(f.Path)] = f.Data
	}
	return out
}

func TestMarkdownTablesFiguresAndTargets(t *testing.T) {
	md := string(generateKV(t)["repo/BENCHMARKS.md"])
	for _, want := range []string{
		"| benchmark | kv | raw `kv` | ratio | peer kv | ours / peer | allocs (ours / ref) | target |",
		// ≈: the peer's runs (120 to 250 ns) overlap ours (190 to 210 ns).
		"| Get <&> | 200 ns ±5% | 100 ns ±5% | 2.00x | 150 ns ±67% | ≈1.33x | 1 / 1 | ≤ 2.00x: met |",
		"| Set | 115 ns ±1% | 100 ns ±1% | 1.15x |  |  | 1 / 1 | ≤ 1.15x: met |",
		"| Set near | 116 ns ±1% | 100 ns ±1% | 1.16x |  |  | 1 / 1 | ≤ 1.15x: **not met** |",
		`| Batch \| one call | 10.0 ns ±0% | 540 ns ±0% (many calls) | 54x faster |  |  | 1 / 1 |  |`,
		"![kv: time relative to raw kv](bench/charts/kv.svg)",
		"Get is 2.00x of raw, 2.0x slower;\nSet runs took 114 ns to 116 ns, Get allocates 1.",
		"Run: linux/amd64, cpu Test CPU, GOMAXPROCS 2,",
		"median of 3 runs",
		"The raw output of that run is `bench/results.txt`; this file and the charts in `bench/charts`",
		"- `BenchmarkExtra/unused`\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("BENCHMARKS.md lacks %q; it is:\n%s", want, md)
		}
	}
	if strings.Contains(md, "BenchmarkGet/ours`") {
		t.Error("a benchmark shown in a table is listed as not in a table")
	}
}

func TestGenerateWritesOneChartPerBackendAndHeadline(t *testing.T) {
	var names []string
	for name := range generateKV(t) {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"repo/BENCHMARKS.md", "repo/bench/charts/headline.svg", "repo/bench/charts/kv.svg"}
	if !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
}

func TestMissingBenchmarkIsAnErrorNamingIt(t *testing.T) {
	res := mustParse(t, strings.ReplaceAll(kvInput, "BenchmarkSet/near", "BenchmarkSet/renamed"))
	_, err := Generate(res, kvLayout(), kvOptions)
	if err == nil || !strings.Contains(err.Error(), `BenchmarkSet/near (section kv, row "Set near")`) {
		t.Errorf("err = %v, want one naming BenchmarkSet/near and its row", err)
	}

	l := kvLayout()
	l[0].Notes = `{{ratio "BenchmarkGet/ours" "BenchmarkGone"}}`
	_, err = Generate(mustParse(t, kvInput), l, kvOptions)
	if err == nil || !strings.Contains(err.Error(), "BenchmarkGone") {
		t.Errorf("err = %v, want one naming the benchmark the notes quote", err)
	}

	res = mustParse(t, strings.ReplaceAll(kvInput, "\t1 allocs/op", ""))
	_, err = Generate(res, kvLayout(), kvOptions)
	if err == nil || !strings.Contains(err.Error(), "allocs/op of BenchmarkGet/ours") || !strings.Contains(err.Error(), "-benchmem") {
		t.Errorf("err = %v, want one asking for -benchmem", err)
	}
}

func TestRealLayoutRejectsRunWithoutOneOfItsBenchmarks(t *testing.T) {
	in, err := os.ReadFile(committedResults)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(in), "\n") {
		if !strings.HasPrefix(line, "BenchmarkMemoryGet/ristretto+copy-") {
			kept = append(kept, line)
		}
	}
	_, err = Generate(mustParse(t, strings.Join(kept, "\n")), layout, kvOptions)
	if err == nil || !strings.Contains(err.Error(), "BenchmarkMemoryGet/ristretto+copy") {
		t.Errorf("err = %v, want one naming BenchmarkMemoryGet/ristretto+copy", err)
	}
}

func TestLayoutMistakesAreErrors(t *testing.T) {
	for name, change := range map[string]func(l []Section) []Section{
		"duplicate backend": func(l []Section) []Section { return append(l, l[0]) },
		"headline backend":  func(l []Section) []Section { l[0].Backend = "headline"; return l },
		"path in backend":   func(l []Section) []Section { l[0].Backend = "../kv"; return l },
		"peer, no column":   func(l []Section) []Section { l[0].Peer = ""; return l },
		"row without ref":   func(l []Section) []Section { l[0].Rows[1].Ref = ""; return l },
		"speedup target":    func(l []Section) []Section { l[0].Rows[3].Target = 1; return l },
	} {
		if _, err := Generate(mustParse(t, kvInput), change(kvLayout()), kvOptions); err == nil || !strings.Contains(err.Error(), "layout:") {
			t.Errorf("%s: err = %v, want a layout error", name, err)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	in, err := os.ReadFile(committedResults)
	if err != nil {
		t.Fatal(err)
	}
	// The same runs in another order must give the same bytes: medians
	// do not depend on order, and nothing may come from map iteration.
	lines := strings.Split(string(in), "\n")
	slices.Reverse(lines)
	first, err := Generate(mustParse(t, string(in)), layout, kvOptions)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		again, err := Generate(mustParse(t, strings.Join(lines, "\n")), layout, kvOptions)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(first, again, func(a, b File) bool { return a.Path == b.Path && bytes.Equal(a.Data, b.Data) }) {
			t.Fatalf("generation %d differs from the first", i+2)
		}
	}
}

// TestCommittedReportIsCurrent keeps BENCHMARKS.md and bench/charts the
// output of bench/results.txt and the layout: after changing either, run
// `scripts/bench.sh --report-only`.
func TestCommittedReportIsCurrent(t *testing.T) {
	files, err := generateFrom(committedResults, Options{In: committedResults, MD: committedMD, Charts: committedCharts})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, f := range files {
		want[filepath.Clean(f.Path)] = true
		got, err := os.ReadFile(f.Path)
		if err != nil {
			t.Errorf("%v (run scripts/bench.sh --report-only)", err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s is not what bench/results.txt and bench/report generate: run scripts/bench.sh --report-only", f.Path)
		}
	}
	svgs, err := filepath.Glob(filepath.Join(committedCharts, "*.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range svgs {
		if !want[filepath.Clean(p)] {
			t.Errorf("%s is no longer generated: delete it", p)
		}
	}
}

func TestBenchScriptRunsTheQuotedCommand(t *testing.T) {
	script, err := os.ReadFile("../../scripts/bench.sh")
	if err != nil {
		t.Fatal(err)
	}
	// The script passes its arguments on before the package.
	want := strings.Replace(benchCommand, " ./bench/", ` "$@" ./bench/`, 1)
	if !strings.Contains(string(script), want) {
		t.Errorf("scripts/bench.sh does not run %s, the command BENCHMARKS.md quotes", want)
	}
}

func TestRunWritesFilesAndReportsBadInput(t *testing.T) {
	in, err := os.ReadFile(committedResults)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("results.txt", string(in))
	md, charts := filepath.Join(dir, "BENCHMARKS.md"), filepath.Join(dir, "charts")
	var stderr bytes.Buffer
	if err := run([]string{"-in", good, "-md", md, "-charts", charts}, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{md, filepath.Join(charts, "headline.svg"), filepath.Join(charts, "memorycache.svg")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(stderr.String(), "wrote "+md) {
		t.Errorf("stderr %q does not say what was written", stderr.String())
	}

	var usage bytes.Buffer
	if err := run([]string{"-h"}, &usage); err != nil || !strings.Contains(usage.String(), `(default "bench/results.txt")`) {
		t.Errorf("run(-h) = %v, usage %q: want the flags and their defaults", err, usage.String())
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-in", filepath.Join(dir, "missing.txt")}, "missing.txt: no such file"},
		{[]string{"-in", write("empty.txt", "")}, "empty.txt: no benchmark results"},
		{[]string{"-in", write("bad.txt", "goos: linux\nBenchmarkA-2 10 x ns/op\n")}, "bad.txt: line 2:"},
		{[]string{"-in", good, "extra"}, "unexpected arguments"},
	} {
		args := append(c.args, "-md", filepath.Join(dir, "out.md"), "-charts", filepath.Join(dir, "outcharts"))
		err := run(args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", c.args, err, c.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "out.md")); err == nil {
			t.Fatalf("run(%q) wrote a report from bad input", c.args)
		}
	}
}
