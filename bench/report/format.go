package main

import (
	"math"
	"strconv"
)

// formatTime writes a duration in nanoseconds with three significant digits
// in the largest unit that keeps it at 1 or more: 56.3 ns, 1.12 µs, 10.5 ms.
func formatTime(ns float64) string {
	units := []struct {
		name  string
		scale float64
	}{{"s", 1e9}, {"ms", 1e6}, {"µs", 1e3}, {"ns", 1}}
	for i, u := range units {
		v := roundSig(ns/u.scale, 3)
		if v >= 1 || i == len(units)-1 {
			return strconv.FormatFloat(v, 'f', decimalsFor(v), 64) + " " + u.name
		}
	}
	panic("unreachable")
}

// roundSig rounds v to sig significant digits, so that 999.6 becomes 1000
// and moves to the next unit instead of printing as "1000 ns".
func roundSig(v float64, sig int) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, float64(sig-1)-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// decimalsFor gives the decimals that show three significant digits of v.
func decimalsFor(v float64) int {
	switch a := math.Abs(v); {
	case a >= 100:
		return 0
	case a >= 10:
		return 1
	default:
		return 2
	}
}

// formatRatio writes ours/reference as 1.09x.
func formatRatio(r float64) string {
	return strconv.FormatFloat(r, 'f', 2, 64) + "x"
}

// roundRatio is the ratio as formatRatio shows it, so that a target is
// judged on the figure the reader sees.
func roundRatio(r float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(r, 'f', 2, 64), 64) // parses what it printed
	return v
}

// formatFactor writes how many times one side is faster: 2.9x, 54x.
func formatFactor(f float64) string {
	if f >= 10 {
		return strconv.FormatFloat(f, 'f', 0, 64) + "x"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + "x"
}

// formatCount writes a median count of allocations or bytes: a whole
// number, or one decimal when the median falls between two runs.
func formatCount(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// formatSpread writes Stat.Spread as a percentage: ±4%.
func formatSpread(s Stat) string {
	return "±" + strconv.FormatFloat(math.Round(s.Spread()*100), 'f', 0, 64) + "%"
}
