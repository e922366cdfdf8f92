package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// svgDoc is what a decoded chart holds: its root attributes, every text,
// and every rect's fill and width in document order.
type svgDoc struct {
	root  map[string]string
	texts []string
	rects []svgRect
}

type svgRect struct {
	fill  string
	width float64
}

// decodeSVG reads a chart with encoding/xml, failing on anything that is
// not well-formed XML.
func decodeSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var doc svgDoc
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Name.Local] = a.Value
			}
			if doc.root == nil {
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root element %v, want svg in the SVG namespace", tok.Name)
				}
				doc.root = attrs
			}
			if tok.Name.Local == "rect" {
				w, err := strconv.ParseFloat(attrs["width"], 64)
				if err != nil {
					t.Fatalf("rect width %q: %v", attrs["width"], err)
				}
				doc.rects = append(doc.rects, svgRect{attrs["fill"], w})
			}
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] == "text" {
				doc.texts = append(doc.texts, string(tok))
			}
		}
	}
	if doc.root == nil || len(stack) != 0 {
		t.Fatalf("no complete svg element in\n%s", data)
	}
	return doc
}

func TestChartBarsAreNormalisedAndLabelled(t *testing.T) {
	doc := decodeSVG(t, generateKV(t)["repo/bench/charts/kv.svg"])
	var ours, ref, peer []float64
	for _, r := range doc.rects {
		switch r.fill {
		case sectionPalette[0]:
			ours = append(ours, r.width)
		case sectionPalette[1]:
			ref = append(ref, r.width)
		case sectionPalette[2]:
			peer = append(peer, r.width)
		}
	}
	// Legend swatches come first, then one bar per side and row.
	if len(ours) != 5 || len(ref) != 5 || len(peer) != 2 {
		t.Fatalf("rects ours %v ref %v peer %v, want a swatch and 4 rows (peer: 1)", ours, ref, peer)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.2 }
	if !near(ours[1], 2*ref[1]) || !near(peer[1], 1.5*ref[1]) || !near(ours[2], 1.15*ref[2]) || !near(ref[1], ref[4]) {
		t.Errorf("bar widths ours %v ref %v peer %v are not the ratios 2, 1.5 and 1.15 to a common reference", ours, ref, peer)
	}
	for _, want := range []string{
		"kv: time relative to raw kv", "kv", "raw kv", "peer kv", "1.0 = reference",
		"Get <&>", "200 ns · 2.00x", "100 ns", "150 ns · 1.50x",
		"10.0 ns · 54x faster", "540 ns (many calls)",
		"0x", "1x", "2x",
	} {
		if !slices.Contains(doc.texts, want) {
			t.Errorf("chart lacks text %q; texts: %q", want, doc.texts)
		}
	}
}

func TestHeadlineChartShowsRatiosToRawAndPeer(t *testing.T) {
	doc := decodeSVG(t, generateKV(t)["repo/bench/charts/headline.svg"])
	for _, want := range []string{"kv Get", "kv Set", "2.00x", "≈1.33x", "1.15x", "1.0 = same time"} {
		if !slices.Contains(doc.texts, want) {
			t.Errorf("headline lacks text %q; texts: %q", want, doc.texts)
		}
	}
	if slices.Contains(doc.texts, "Set near") {
		t.Error("a row without a Headline label is in the headline chart")
	}
}

func TestCommittedRunChartsAreWellFormed(t *testing.T) {
	files, err := generateFrom(committedResults, kvOptions)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".svg") {
			continue
		}
		n++
		doc := decodeSVG(t, f.Data)
		w, errW := strconv.ParseFloat(doc.root["width"], 64)
		h, errH := strconv.ParseFloat(doc.root["height"], 64)
		if errW != nil || errH != nil || w < chartWidth || h <= plotTop {
			t.Errorf("%s: svg width %q height %q", f.Path, doc.root["width"], doc.root["height"])
		}
		if want := "0 0 " + doc.root["width"] + " " + doc.root["height"]; doc.root["viewBox"] != want {
			t.Errorf("%s: viewBox %q, want %q", f.Path, doc.root["viewBox"], want)
		}
	}
	if n != len(layout)+1 {
		t.Errorf("%d charts, want one per section and the headline (%d)", n, len(layout)+1)
	}
}

func TestAxis(t *testing.T) {
	for _, c := range []struct{ max, end, step float64 }{
		{1, 1, 0.25},
		{1.03, 1.25, 0.25},
		{1.5, 1.5, 0.25},
		{2.48, 2.5, 0.5},
		{2.5, 2.5, 0.5},
		{7, 8, 2},
		{54, 60, 10},
	} {
		if end, step := axis(c.max); end != c.end || step != c.step {
			t.Errorf("axis(%v) = %v, %v, want %v, %v", c.max, end, step, c.end, c.step)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want []string
	}{
		{"Get", 10, []string{"Get"}},
		{"Set, overwrite, against the raw Set", 15, []string{"Set, overwrite,", "against the raw", "Set"}},
		{"averyveryverylongword x", 5, []string{"averyveryverylongword", "x"}},
	} {
		if got := wrap(c.in, c.n); !slices.Equal(got, c.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
