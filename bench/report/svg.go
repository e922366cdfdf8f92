package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// chart is a horizontal grouped bar chart whose values are ratios to a
// reference, drawn with a dashed line at 1.0.
type chart struct {
	title, subtitle string
	// series are the legend entries; bar.series indexes them and palette.
	series  []string
	palette []string
	// lineLabel explains the dashed line at 1.0 in the legend.
	lineLabel string
	groups    []group
}

type group struct {
	label string
	bars  []bar
}

type bar struct {
	series int
	value  float64
	text   string
}

// Geometry in pixels. Text widths are estimated from the character count,
// as an SVG cannot measure text before a viewer renders it.
const (
	chartWidth = 880 // at least; wider when a bar label needs it
	labelX     = 12
	labelChars = 34 // a group label wraps at this many characters
	plotX      = 270
	plotW      = 400
	plotTop    = 88
	barHeight  = 14
	barGap     = 3
	groupGap   = 14
	lineHeight = 15
	textColor  = "#1f2328"
	mutedColor = "#59636e"
	gridColor  = "#d1d9e0"
	bandColor  = "#f6f8fa"
	fontFamily = `-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif`
)

// Palettes: blue for ours, grey for the reference, orange for the peer;
// they stay apart for the common colour-vision deficiencies.
var (
	sectionPalette  = []string{"#0969da", "#8c959f", "#d4600e"}
	headlinePalette = []string{"#0969da", "#d4600e"}
)

// svg renders the chart. The output depends only on the chart's values,
// formatted with fixed precision, so equal input gives equal bytes.
func (c chart) svg() []byte {
	maxVal := 1.0
	for _, g := range c.groups {
		for _, b := range g.bars {
			maxVal = math.Max(maxVal, b.value)
		}
	}
	xmax, step := axis(maxVal)
	width := math.Max(chartWidth, math.Ceil(math.Max(textWidth(c.title, 16), textWidth(c.subtitle, 12))+2*labelX))
	for _, g := range c.groups {
		for _, b := range g.bars {
			width = math.Max(width, math.Ceil(plotX+b.value/xmax*plotW+5+textWidth(b.text, 12)+labelX))
		}
	}
	x := func(v float64) string { return px(plotX + v/xmax*plotW) }

	type placed struct {
		y, h  float64
		lines []string
	}
	var pos []placed
	y := float64(plotTop + 6)
	for _, g := range c.groups {
		lines := wrap(g.label, labelChars)
		h := math.Max(float64(len(g.bars)*barHeight+(len(g.bars)-1)*barGap), float64(len(lines)*lineHeight))
		pos = append(pos, placed{y, h, lines})
		y += h + groupGap
	}
	plotBottom := y - groupGap + 6
	height := plotBottom + 34

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s" font-family="%s" font-size="13" fill="%s">`+"\n",
		px(width), px(height), px(width), px(height), esc(c.title), fontFamily, textColor)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(c.title))
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#ffffff"/>`+"\n", px(width), px(height))
	fmt.Fprintf(&b, `<text x="%d" y="26" font-size="16" font-weight="600">%s</text>`+"\n", labelX, esc(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="46" font-size="12" fill="%s">%s</text>`+"\n", labelX, mutedColor, esc(c.subtitle))

	// Legend: one swatch per series, then the dashed line.
	lx := float64(labelX)
	for i, s := range c.series {
		fmt.Fprintf(&b, `<rect x="%s" y="60" width="12" height="12" fill="%s"/><text x="%s" y="70.5">%s</text>`+"\n",
			px(lx), c.palette[i], px(lx+17), esc(s))
		lx += 17 + textWidth(s, 13) + 20
	}
	fmt.Fprintf(&b, `<line x1="%s" y1="66" x2="%s" y2="66" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/><text x="%s" y="70.5">%s</text>`+"\n",
		px(lx), px(lx+22), textColor, px(lx+27), esc(c.lineLabel))

	// Bands behind every other group, then the grid, so bars draw on top.
	for i, p := range pos {
		if i%2 == 1 {
			fmt.Fprintf(&b, `<rect x="0" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
				px(p.y-groupGap/2), px(width), px(p.h+groupGap), bandColor)
		}
	}
	for i := 0; float64(i)*step <= xmax+step/2; i++ {
		v := float64(i) * step
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n",
			x(v), plotTop, x(v), px(plotBottom), gridColor)
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="12" fill="%s" text-anchor="middle">%sx</text>`+"\n",
			x(v), px(plotBottom+16), mutedColor, strconv.FormatFloat(v, 'f', -1, 64))
	}

	// Bars, then the line at 1.0 over them, then the bar labels over both
	// with a white halo so that the line does not cross their letters.
	var labels bytes.Buffer
	for gi, g := range c.groups {
		p := pos[gi]
		first := p.y + p.h/2 - float64(len(p.lines)*lineHeight)/2 + 11
		for li, line := range p.lines {
			fmt.Fprintf(&b, `<text x="%d" y="%s">%s</text>`+"\n", labelX, px(first+float64(li*lineHeight)), esc(line))
		}
		by := p.y + (p.h-float64(len(g.bars)*barHeight+(len(g.bars)-1)*barGap))/2
		for _, br := range g.bars {
			w := br.value / xmax * plotW
			fmt.Fprintf(&b, `<rect x="%d" y="%s" width="%s" height="%d" fill="%s"/>`+"\n",
				plotX, px(by), px(w), barHeight, c.palette[br.series])
			fmt.Fprintf(&labels, `<text x="%s" y="%s" font-size="12">%s</text>`+"\n",
				px(plotX+w+5), px(by+barHeight-3), esc(br.text))
			by += barHeight + barGap
		}
	}
	fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`+"\n",
		x(1), plotTop, x(1), px(plotBottom), textColor)
	b.WriteString(`<g stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke">` + "\n")
	b.Write(labels.Bytes())
	b.WriteString("</g>\n")
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// axis picks the end of the scale and the tick step: at most six steps,
// the end the first tick at or past maxVal.
func axis(maxVal float64) (xmax, step float64) {
	for scale := 1.0; ; scale *= 10 {
		for _, base := range []float64{0.25, 0.5, 1, 2, 5} {
			step = base * scale
			if n := math.Ceil(maxVal/step - 1e-9); n <= 6 {
				return n * step, step
			}
		}
	}
}

// wrap breaks s into lines of at most n characters at spaces; a longer word
// gets a line of its own.
func wrap(s string, n int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= n:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return append(lines, line)
}

// textWidth estimates the width of s in a sans-serif font of size px,
// generously: wide fonts such as DejaVu Sans average about 0.6 em.
func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * size * 0.62
}

// px formats a coordinate with one decimal.
func px(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// esc escapes text for SVG content and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

// sectionChart draws one backend: per row ours, the reference and the
// peer, each relative to the reference.
func sectionChart(s resolvedSection, rc runs) chart {
	c := chart{
		title:     s.Backend + ": time relative to " + plain(s.Ref),
		subtitle:  rc.String() + "; shorter is faster; label: median time · ratio to the reference (≈: the two sides' runs overlap)",
		series:    []string{plain(s.Ours), plain(s.Ref)},
		palette:   sectionPalette,
		lineLabel: "1.0 = reference",
	}
	if s.hasPeer() {
		c.series = append(c.series, plain(s.Peer))
	}
	for _, r := range s.rows {
		g := group{label: plain(r.Label)}
		g.bars = append(g.bars,
			bar{0, r.ratio(), formatTime(r.ours.ns.Median) + " · " + ratioText(r.ours, r.ref, r.Speedup)},
			bar{1, 1, formatTime(r.ref.ns.Median) + parenthesised(plain(r.RefLabel))})
		if r.peer != nil {
			g.bars = append(g.bars, bar{2, r.peer.ns.Median / r.ref.ns.Median,
				formatTime(r.peer.ns.Median) + " · " + ratioText(*r.peer, r.ref, false) + parenthesised(plain(r.PeerLabel))})
		}
		c.groups = append(c.groups, g)
	}
	return c
}

func parenthesised(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// headlineChart draws every row marked Headline: our time relative to the
// raw client and to the peer library.
func headlineChart(secs []resolvedSection, res *Results, rc runs) chart {
	c := chart{
		title: "cachelib: time of our code relative to the raw client and the peer library",
		subtitle: fmt.Sprintf("%s, %s/%s, cpu %s; below 1.0x is faster; ≈: the runs overlap; details in BENCHMARKS.md",
			rc, res.Config["goos"], res.Config["goarch"], res.Config["cpu"]),
		series:    []string{"vs the raw client", "vs the peer library (gocache, scs)"},
		palette:   headlinePalette,
		lineLabel: "1.0 = same time",
	}
	for _, s := range secs {
		for _, r := range s.rows {
			if r.Headline == "" {
				continue
			}
			g := group{label: r.Headline}
			refSeries := 0
			if s.RefIsPeer {
				refSeries = 1
			}
			g.bars = append(g.bars, bar{refSeries, r.ratio(), ratioText(r.ours, r.ref, false)})
			if r.peer != nil {
				g.bars = append(g.bars, bar{1, r.ours.ns.Median / r.peer.ns.Median, ratioText(r.ours, *r.peer, false)})
			}
			c.groups = append(c.groups, g)
		}
	}
	return c
}
