package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// File is one generated output.
type File struct {
	Path string
	Data []byte
}

// Options say where the outputs go; the Markdown links to the charts and
// names the input relative to its own folder, so the bytes do not depend on
// the directory the generator runs from.
type Options struct {
	In, MD, Charts string
}

// measure is one side of a comparison: the medians of one benchmark.
type measure struct {
	name   string
	ns     Stat
	allocs Stat
}

// distinct reports whether the runs of the two sides do not overlap, the
// only difference six runs can show without a model of the noise.
func (m measure) distinct(o measure) bool {
	return m.ns.Max < o.ns.Min || o.ns.Max < m.ns.Min
}

// resolvedRow is a layout row with its measures; peer is nil without one.
type resolvedRow struct {
	Row
	ours, ref measure
	peer      *measure
}

func (r resolvedRow) ratio() float64 { return r.ours.ns.Median / r.ref.ns.Median }

// met reports whether the row reaches its target, judged on the ratio as
// printed so that the table never shows "1.15x" next to "not met" for 1.15.
func (r resolvedRow) met() bool { return roundRatio(r.ratio()) <= r.Target }

type resolvedSection struct {
	Section
	rows []resolvedRow
}

func (s resolvedSection) hasPeer() bool {
	for _, r := range s.rows {
		if r.peer != nil {
			return true
		}
	}
	return false
}

func (s resolvedSection) hasTarget() bool {
	for _, r := range s.rows {
		if r.Target > 0 {
			return true
		}
	}
	return false
}

var backendName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// headlineFile is the chart of every backend's headline rows, for the
// README.
const headlineFile = "headline.svg"

// Generate makes BENCHMARKS.md and the charts from one run, or fails
// naming every benchmark the layout wants and the run lacks.
func Generate(res *Results, sections []Section, opt Options) ([]File, error) {
	secs, err := resolve(res, sections)
	if err != nil {
		return nil, err
	}
	md, err := markdown(res, secs, opt)
	if err != nil {
		return nil, err
	}
	files := []File{{Path: opt.MD, Data: md}}
	runs := runCounts(res)
	for _, s := range secs {
		files = append(files, File{Path: chartPath(opt, s.Backend+".svg"), Data: sectionChart(s, runs).svg()})
	}
	files = append(files, File{Path: chartPath(opt, headlineFile), Data: headlineChart(secs, res, runs).svg()})
	return files, nil
}

// resolve checks the layout and looks up every benchmark it names.
func resolve(res *Results, sections []Section) ([]resolvedSection, error) {
	var missing []string
	seen := map[string]bool{}
	lookup := func(name, where string) measure {
		b := res.Benchmarks[name]
		if b == nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", name, where))
			return measure{name: name}
		}
		ns, _ := b.Stat("ns/op")
		allocs, ok := b.Stat("allocs/op")
		if !ok {
			missing = append(missing, fmt.Sprintf("allocs/op of %s (%s; run with -benchmem)", name, where))
		}
		return measure{name: name, ns: ns, allocs: allocs}
	}
	var out []resolvedSection
	for _, s := range sections {
		if !backendName.MatchString(s.Backend) || s.Backend+".svg" == headlineFile || seen[s.Backend] {
			return nil, fmt.Errorf("layout: backend %q must be unique, lower case, usable as a file name and not %q", s.Backend, headlineFile)
		}
		seen[s.Backend] = true
		rs := resolvedSection{Section: s}
		for _, r := range s.Rows {
			where := fmt.Sprintf("section %s, row %q", s.Backend, r.Label)
			if r.Ours == "" || r.Ref == "" || (r.Peer != "" && s.Peer == "") || (r.Speedup && r.Target > 0) {
				return nil, fmt.Errorf("layout: %s needs Ours and Ref, a Peer only under a Peer column, and no Target on a Speedup row", where)
			}
			rr := resolvedRow{Row: r, ours: lookup(r.Ours, where), ref: lookup(r.Ref, where)}
			if r.Peer != "" {
				p := lookup(r.Peer, where)
				rr.peer = &p
			}
			rs.rows = append(rs.rows, rr)
		}
		out = append(out, rs)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the input lacks benchmarks the layout names (renamed or not run?):\n  %s", strings.Join(missing, "\n  "))
	}
	return out, nil
}

// runs is the range of run counts over the benchmarks of the input.
type runs struct{ min, max int }

func runCounts(res *Results) runs {
	r := runs{min: -1}
	for _, b := range res.Benchmarks {
		if r.min < 0 || b.Runs < r.min {
			r.min = b.Runs
		}
		r.max = max(r.max, b.Runs)
	}
	return r
}

func (r runs) String() string {
	if r.min == r.max {
		return fmt.Sprintf("median of %d runs", r.min)
	}
	return fmt.Sprintf("median of %d to %d runs", r.min, r.max)
}

// compare says how ours stands against other in time: "2.9x faster",
// "1.2x slower".
func compare(ours, other float64) string {
	if ours <= other {
		return formatFactor(other/ours) + " faster"
	}
	return formatFactor(ours/other) + " slower"
}

// ratioText is a ratio cell or label: a speedup row says how many times
// faster, and ≈ marks a ratio whose two sides' runs overlap.
func ratioText(ours, other measure, speedup bool) string {
	s := formatRatio(ours.ns.Median / other.ns.Median)
	if speedup {
		s = compare(ours.ns.Median, other.ns.Median)
	}
	if !ours.distinct(other) {
		s = "≈" + s
	}
	return s
}

// relPath is target relative to the folder of from, with forward slashes
// for Markdown links.
func relPath(from, target string) (string, error) {
	a, err := filepath.Abs(filepath.Dir(from))
	if err != nil {
		return "", err
	}
	b, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(a, b)
	if err != nil {
		return "", errors.New("cannot link " + target + " from " + from + ": " + err.Error())
	}
	return filepath.ToSlash(r), nil
}
