// Command report turns the output of one `go test -bench` run of ./bench
// into BENCHMARKS.md and an SVG chart per backend, plus a headline chart
// for the README. Generating everything from one run keeps the figures
// comparable; scripts/bench.sh runs the benchmarks and then this command.
//
// Run it from the repository root:
//
//	go run ./bench/report [-in bench/results.txt] [-md BENCHMARKS.md] [-charts bench/charts]
//
// What the report shows is the table in layout.go: per backend, rows that
// name our benchmark, the raw client's and optionally the peer library's.
// Each figure is the median over the repeated runs (-count). A benchmark
// the layout names and the input lacks is an error, so a renamed benchmark
// cannot drop a row silently. The same input always gives the same bytes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/report:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "bench/results.txt", "the `file` holding the output of one go test -bench run")
	md := fs.String("md", "BENCHMARKS.md", "the `file` to write the Markdown report to")
	charts := fs.String("charts", "bench/charts", "the `folder` to write the SVG charts to")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench/report [flags]  (from the repository root)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	files, err := generateFrom(*in, Options{In: *in, MD: *md, Charts: *charts})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*charts, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(f.Path, f.Data, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "wrote %s and %d charts in %s\n", *md, len(files)-1, filepath.Clean(*charts))
	return nil
}

// generateFrom reads and parses the input file and generates every output
// in memory, so that nothing is written unless all of it succeeded.
func generateFrom(path string, opt Options) ([]File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Generate(res, layout, opt)
}
