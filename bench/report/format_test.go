package main

import "testing"

func TestFormatTime(t *testing.T) {
	for ns, want := range map[float64]string{
		0:          "0.00 ns",
		0.456:      "0.46 ns",
		7.5:        "7.50 ns",
		56.34:      "56.3 ns",
		139:        "139 ns",
		999.4:      "999 ns",
		999.6:      "1.00 µs", // rounds up into the next unit, never "1000 ns"
		1115:       "1.12 µs",
		98_740:     "98.7 µs",
		121_400:    "121 µs",
		999_700:    "1.00 ms",
		10_450_921: "10.5 ms",
		2.3e9:      "2.30 s",
		125e9:      "125 s",
	} {
		if got := formatTime(ns); got != want {
			t.Errorf("formatTime(%v) = %q, want %q", ns, got, want)
		}
	}
}

func TestFormatRatioAndFactor(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{formatRatio(1.0904), "1.09x"},
		{formatRatio(0.345), "0.34x"}, // 0.345 is 0.34499... in binary
		{formatRatio(0.019), "0.02x"},
		{formatRatio(2.5), "2.50x"},
		{formatFactor(2.854), "2.9x"},
		{formatFactor(9.96), "10.0x"},
		{formatFactor(54.4), "54x"},
		{compare(1, 54.4), "54x faster"},
		{compare(412, 1190), "2.9x faster"},
		{compare(2510, 2140), "1.2x slower"},
		{compare(5, 5), "1.0x faster"},
		{formatCount(25), "25"},
		{formatCount(2.5), "2.5"},
		{formatSpread(Stat{Median: 100, Min: 96, Max: 103}), "±4%"},
		{formatSpread(Stat{Median: 100, Min: 100, Max: 100}), "±0%"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestRoundRatioMatchesPrintedFigure(t *testing.T) {
	for r, want := range map[float64]float64{1.149: 1.15, 1.1549: 1.15, 1.1551: 1.16, 0.345: 0.34, 0.4999: 0.5, 2.4951: 2.5} {
		if got := roundRatio(r); got != want || formatRatio(got) != formatRatio(r) {
			t.Errorf("roundRatio(%v) = %v, want %v, printed as %s", r, got, want, formatRatio(r))
		}
	}
}
