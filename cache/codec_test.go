package cache_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/decodetest"
	"github.com/fxamacker/cbor/v2"
)

// hostile CBOR: declared lengths far beyond the data, and deep nesting.
var hostileCBOR = [][]byte{
	{0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00},       // array of 2^32 elements
	{0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},       // map of 2^63-1 pairs
	{0x5b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01}, // 64 GiB byte string
	{0x7a, 0xff, 0xff, 0xff, 0xff, 'a'},                          // 4 GiB text string
	{0x99, 0xff, 0xff, 0xa0},                                     // 65535 maps, one present
	append(bytes.Repeat([]byte{0x81}, 36), 0x01),                 // 36 levels
}

func TestCBORRejectsHostileInput(t *testing.T) {
	for i, b := range hostileCBOR {
		var v any
		if err := (cache.CBORCodec{}).Unmarshal(b, &v); err == nil {
			t.Errorf("input %d decoded without error into %T", i, v)
		}
	}
}

// The hostile inputs cost no more than their size, into every target.
func TestCodecsBoundAllocation(t *testing.T) {
	inputs := append(hostileCBOR,
		[]byte(`[`+string(bytes.Repeat([]byte("{},"), 50_000))+`{}]`),  // 50,001 empty objects
		[]byte(`"`+string(bytes.Repeat([]byte(`\u00e9`), 10_000))+`"`), // escapes
		bytes.Repeat([]byte("["), 100_000),                             // nesting never closed
	)
	for _, c := range []cache.Codec{cache.CBORCodec{}, cache.JSONCodec{}} {
		for _, b := range inputs {
			for _, target := range codecTargets {
				decodetest.CheckAlloc(t, decodetest.CodecBound, len(b), func() { _ = c.Unmarshal(b, target()) })
			}
		}
	}
}

var codecTargets = []func() any{
	func() any { return new(any) },
	func() any { return new(profile) },
	func() any { return new(time.Time) },
}

// tag1 is CBOR tag 1 (epoch-based time) around a float64 of seconds.
func tag1(secs float64) []byte {
	b, err := cbor.Marshal(cbor.Tag{Number: 1, Content: secs})
	if err != nil {
		panic(err)
	}
	return b
}

func cborOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A time that RFC 3339 cannot write (the year outside 0 to 9999) is refused
// when decoded, whether it comes from tag 1 or from a number decoded into a
// time.Time, in every target that can hold one. Times within the range still
// decode, up to its edges.
func TestCBORRejectsUnencodableTimes(t *testing.T) {
	type event struct {
		At    time.Time
		Extra map[string]any
	}
	year := func(y int) float64 { return float64(time.Date(y, 6, 1, 0, 0, 0, 0, time.UTC).Unix()) }
	bad := map[string]struct {
		data   []byte
		target func() any
	}{
		"fuzz crasher":              {[]byte{0xc1, 0xfa, 0x58, 0x30, 0x30, 0x30}, func() any { return new(any) }},
		"tag 1 year 10000 in any":   {tag1(year(10000)), func() any { return new(any) }},
		"tag 1 year -1 in any":      {tag1(year(-1)), func() any { return new(any) }},
		"tag 1 in a nested map":     {cborOf(t, map[string]any{"a": []any{cbor.Tag{Number: 1, Content: int64(1) << 40}}}), func() any { return new(any) }},
		"integer into time.Time":    {cborOf(t, uint64(1)<<40), func() any { return new(time.Time) }},
		"negative into time.Time":   {cborOf(t, int64(-1)<<40), func() any { return new(time.Time) }},
		"float into a struct field": {cborOf(t, map[string]any{"At": 1e15}), func() any { return new(event) }},
		"tag 1 in a struct's map":   {cborOf(t, map[string]any{"Extra": map[string]any{"x": cbor.Tag{Number: 1, Content: 1e15}}}), func() any { return new(event) }},
		"profile.Updated":           {cborOf(t, map[string]any{"Updated": math.MaxInt64 / 2}), func() any { return new(profile) }},
	}
	for name, c := range bad {
		v := c.target()
		err := (cache.CBORCodec{}).Unmarshal(c.data, v)
		if err == nil {
			t.Errorf("%s: %x decoded into %T as %v", name, c.data, v, reflect.ValueOf(v).Elem())
			continue
		}
		if _, err := (cache.CBORCodec{}).Marshal(v); err == nil {
			t.Errorf("%s: refused, but what it decoded to encodes", name)
		}
		if ue := new(cbor.UnsupportedValueError); !errors.As(err, &ue) {
			t.Errorf("%s: error %v does not wrap the encoder's *cbor.UnsupportedValueError", name, err)
		}
	}
	anyT, timeT, profileT := codecTargets[0], codecTargets[2], codecTargets[1]
	good := map[string]struct {
		data    []byte
		targets []func() any
	}{
		"year 9999":   {tag1(float64(time.Date(9999, 12, 31, 0, 0, 0, 0, time.Local).Unix())), []func() any{anyT, timeT}},
		"year 0":      {tag1(float64(time.Date(0, 1, 2, 0, 0, 0, 0, time.Local).Unix())), []func() any{anyT, timeT}},
		"now in ms":   {tag1(float64(time.Now().UnixMilli()) / 1000), []func() any{anyT, timeT}},
		"large float": {cborOf(t, map[string]any{"Age": uint64(1) << 62, "Scores": map[string]any{"f": 1e300}}), []func() any{anyT, profileT}},
		"zero time":   {cborOf(t, time.Time{}), []func() any{anyT, timeT}},
	}
	for name, c := range good {
		for _, target := range c.targets {
			v := target()
			if err := (cache.CBORCodec{}).Unmarshal(c.data, v); err != nil {
				t.Errorf("%s: %x into %T: %v", name, c.data, v, err)
			}
		}
	}
}

// cborSeeds and jsonSeeds start the fuzz targets with hostile inputs and
// with valid encodings of every kind of value.
func cborSeeds(f *testing.F) {
	for _, b := range hostileCBOR {
		f.Add(b)
	}
	f.Add(append([]byte{0x99, 0x03, 0xe8}, bytes.Repeat([]byte{0xa0}, 1000)...)) // 1,000 empty maps
	for _, v := range []any{
		map[string]any{"a": 1, "b": []any{"x", 2.5}}, "text", int64(-5), []byte{1, 2},
		profile{Name: "ada", Tags: []string{"a"}, Avatar: []byte{0}, Updated: time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)), Scores: map[string]float64{"a": 1}},
		cbor.Tag{Number: 1, Content: 1.5}, cbor.Tag{Number: 99, Content: "x"}, math.NaN(),
	} {
		b, err := cache.CBORCodec{}.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzCBORCodec checks that no input makes CBORCodec allocate beyond
// decodetest.CodecBound, and that whatever it decodes, into an interface, a
// struct or a time.Time, it encodes again.
func FuzzCBORCodec(f *testing.F) {
	cborSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		decodetest.Codec(t, cache.CBORCodec{}, data, codecTargets...)
	})
}

// FuzzJSONCodec is FuzzCBORCodec for JSONCodec.
func FuzzJSONCodec(f *testing.F) {
	for _, s := range []string{
		`{"Name":"ada","Tags":["a"],"Updated":"2024-01-02T03:04:05.000000006+01:00","Scores":{"a":1e300}}`,
		`[1,"x",null,true,{"a":[]}]`, `"9999-12-31T23:59:59-23:59"`, `1e400`, `"\ud800"`, `[[[[[[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodetest.Codec(t, cache.JSONCodec{}, data, codecTargets...)
	})
}
