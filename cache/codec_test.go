package cache_test

import (
	"testing"

	"github.com/cachelib-go/cachelib/cache"
)

// hostile CBOR: declared lengths far beyond the data, and deep nesting.
var hostileCBOR = [][]byte{
	{0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00},       // array of 2^32 elements
	{0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},       // map of 2^63-1 pairs
	{0x5b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01}, // 64 GiB byte string
	append(make([]byte, 0, 100), []byte("\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x01")...), // 36 levels
}

func TestCBORRejectsHostileInput(t *testing.T) {
	for i, b := range hostileCBOR {
		var v any
		if err := (cache.CBORCodec{}).Unmarshal(b, &v); err == nil {
			t.Errorf("input %d decoded without error into %T", i, v)
		}
	}
}

func FuzzCodecs(f *testing.F) {
	for _, b := range hostileCBOR {
		f.Add(b)
	}
	for _, v := range []any{map[string]any{"a": 1, "b": []any{"x", 2.5}}, "text", int64(-5), []byte{1, 2}} {
		b, err := cache.CBORCodec{}.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Name":"ada","Tags":["a"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []cache.Codec{cache.CBORCodec{}, cache.JSONCodec{}} {
			var p profile
			_ = c.Unmarshal(data, &p)
			var v any
			if c.Unmarshal(data, &v) == nil {
				// Whatever decodes must encode again.
				if _, err := c.Marshal(v); err != nil {
					t.Fatalf("%T: decoded %#v but cannot encode it: %v", c, v, err)
				}
			}
		}
	})
}
