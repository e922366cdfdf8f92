package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/internal/decodetest"
)

// hostileMsgpack declares lengths far beyond the data, and nests deeper than
// the limit. The first is the 5-byte Flask record that made the process die
// of "fatal error: out of memory".
var hostileMsgpack = [][]byte{
	{0xdf, 0xff, 0xff, 0xff, 0xff},                    // map of 2^32-1 pairs
	{0xdd, 0xff, 0xff, 0xff, 0xff},                    // array of 2^32-1 elements
	{0xde, 0xff, 0xff, 0xa0, 0xc0},                    // map of 65535 pairs, one present
	{0xdc, 0xff, 0xff, 0x80},                          // array of 65535 maps, one present
	{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},               // 4 GiB string
	{0xc6, 0xff, 0xff, 0xff, 0xff, 0},                 // 4 GiB binary
	{0xc9, 0xff, 0xff, 0xff, 0xff, 0xff, 0},           // 4 GiB extension
	{0x81, 0xa1, 'v', 0xdd, 0x7f, 0xff, 0xff, 0xff},   // the same inside a map
	append(bytes.Repeat([]byte{0x91}, 33), 0xc0),      // 33 levels of arrays
	append(bytes.Repeat([]byte{0x81, 0xa0}, 33), 1),   // 33 levels of maps
	append(bytes.Repeat([]byte{0x91}, 100_000), 0xc0), // 100,000 levels
	// Where a map is expected, the msgpack library reads an extension's
	// payload as a map: the fuzzer's 10 bytes pre-sized a map for 10^6
	// entries (84 MB), and a map of 2^32-1 pairs would die.
	[]byte("\xd70\xdf0000000"),
	{0xc7, 0x05, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff},
}

// A valid time whose 8 bytes, read as a map where one is expected, would
// hold an array of 2^32-1 elements: it decodes as a time, and is refused,
// cheaply, where a map is expected.
func TestMsgpackExtensionNotReadAsMap(t *testing.T) {
	stamp := []byte{0xd7, 0xff, 0x81, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00}
	var v any
	if err := (MsgpackCodec{}).Unmarshal(stamp, &v); err != nil {
		t.Fatalf("a valid timestamp: %v", err)
	}
	if _, ok := v.(time.Time); !ok {
		t.Fatalf("decoded %T", v)
	}
	for _, target := range []func() any{
		func() any { return new(map[string]any) },
		func() any { return new(map[string]string) },
		func() any { return new(struct{ M map[string]any }) },
	} {
		data := stamp
		if _, isStruct := target().(*struct{ M map[string]any }); isStruct {
			data = append([]byte{0x81, 0xa1, 'M'}, stamp...)
		}
		var err error
		decodetest.CheckAlloc(t, decodetest.CodecBound, len(data), func() { err = MsgpackCodec{}.Unmarshal(data, target()) })
		if !errors.Is(err, errMsgpack) {
			t.Errorf("%x into %T: error %v, want errMsgpack", data, target(), err)
		}
	}
	if _, err := (flaskFormat{}).decode(stamp); !errors.Is(err, errCorrupt) {
		t.Errorf("a timestamp as a Flask record: %v", err)
	}
}

// msgpackTargets are what the fuzz targets and the tests decode into.
type msgpackProfile struct {
	Name    string
	Tags    []string
	Avatar  []byte
	Updated time.Time
	Scores  map[string]float64
	Meta    map[string]string
	Nested  []msgpackProfile
}

var msgpackTargets = []func() any{
	func() any { return new(any) },
	func() any { return new(msgpackProfile) },
	func() any { return new([]msgpackProfile) },
	func() any { return new(map[string]string) },
	func() any { return new([]string) },
	func() any { return new(time.Time) },
}

// Every hostile input is refused, by the codec into every target and by
// both record formats, allocating no more than its size justifies.
func TestMsgpackRejectsHostileInput(t *testing.T) {
	for i, b := range hostileMsgpack {
		for _, target := range msgpackTargets {
			var err error
			decodetest.CheckAlloc(t, decodetest.CodecBound, len(b), func() { err = MsgpackCodec{}.Unmarshal(b, target()) })
			if err == nil {
				t.Errorf("input %d decoded into %T", i, target())
			}
		}
		for _, f := range []format{flaskFormat{}, nativeFormat{MsgpackCodec{}}} {
			var err error
			decodetest.CheckAlloc(t, recordBound, len(b), func() { _, err = f.decode(b) })
			if err == nil {
				t.Errorf("input %d decoded as a %T record", i, f)
			}
		}
	}
}

// Values nested up to the limit decode; trailing bytes after a value are
// refused, as Python's msgpack.unpackb refuses them.
func TestMsgpackLimits(t *testing.T) {
	deep := append(bytes.Repeat([]byte{0x91}, 32), 0xc0)
	var v any
	if err := (MsgpackCodec{}).Unmarshal(deep, &v); err != nil {
		t.Errorf("32 levels: %v", err)
	}
	if err := (MsgpackCodec{}).Unmarshal([]byte{0x01, 0x02}, &v); err == nil {
		t.Error("decoded a value followed by another")
	}
	if _, err := (flaskFormat{}).decode([]byte{0x80, 0x80}); err == nil {
		t.Error("decoded a record followed by another")
	}
}

// FuzzMsgpackCodec checks that no input makes MsgpackCodec allocate beyond
// decodetest.CodecBound, and that whatever it decodes it encodes again.
func FuzzMsgpackCodec(f *testing.F) {
	for _, b := range hostileMsgpack {
		f.Add(b)
	}
	f.Add(append([]byte{0xdc, 0x03, 0xe8}, bytes.Repeat([]byte{0x80}, 1000)...)) // 1,000 empty maps: 1,000 structs of 128 bytes
	for _, v := range []any{
		map[string]any{"a": 1, "b": []any{"x", 2.5, nil, true, []byte{1}}}, "text", int64(-5), uint64(1) << 63,
		msgpackProfile{Name: "ada", Tags: []string{"a"}, Updated: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC),
			Scores: map[string]float64{"a": 1}, Meta: map[string]string{"k": "v"}, Nested: []msgpackProfile{{Name: "b"}}},
	} {
		b, err := MsgpackCodec{}.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodetest.Codec(t, MsgpackCodec{}, data, msgpackTargets...)
	})
}
