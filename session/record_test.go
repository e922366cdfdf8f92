package session

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/internal/decodetest"
)

// gobCodec stands for a codec whose library ignores raw's hooks: each value
// is then kept as a byte string of its own encoding.
type gobCodec struct{}

func (gobCodec) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

var testCodecs = map[string]cache.Codec{
	"cbor":    cache.CBORCodec{},
	"json":    cache.JSONCodec{},
	"msgpack": MsgpackCodec{},
	"gob":     gobCodec{},
}

// A record keeps each value as its own encoding, through every codec, nulls
// included.
func TestRecordRoundTrip(t *testing.T) {
	for name, codec := range testCodecs {
		t.Run(name, func(t *testing.T) {
			enc := func(v any) raw {
				b, err := codec.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			in := record{
				Values:    map[string]raw{"n": enc(7), "s": enc("x"), "list": enc([]string{"a", "b"})},
				Created:   1700000000123,
				Permanent: true,
			}
			if name != "gob" { // gob cannot encode nil
				in.Values["null"] = enc(nil)
			}
			f := nativeFormat{codec}
			b, err := f.encode(&in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := f.decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if out.Created != in.Created || out.Permanent != in.Permanent || len(out.Values) != len(in.Values) {
				t.Fatalf("decoded %+v, want %+v", out, in)
			}
			for k, want := range in.Values {
				got := out.Values[k]
				if len(got) == 0 { // a null the decoder handed over as nil
					got, _ = codec.Marshal(nil)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("value %q = %x, want %x", k, got, want)
				}
			}
		})
	}
}

// With the JSON codec the record is plain JSON that another program reads.
func TestRecordJSONIsPlain(t *testing.T) {
	rec := record{Values: map[string]raw{"user": raw(`{"name":"Ada"}`)}, Created: 5, Permanent: true}
	b, err := nativeFormat{cache.JSONCodec{}}.encode(&rec)
	if err != nil {
		t.Fatal(err)
	}
	var plain map[string]any
	if err := json.Unmarshal(b, &plain); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"values": map[string]any{"user": map[string]any{"name": "Ada"}}, "created": 5.0, "permanent": true}
	if !reflect.DeepEqual(plain, want) {
		t.Fatalf("stored %s, want the plain JSON of %v", b, want)
	}
}

func TestMsgpackWidensNumbers(t *testing.T) {
	b, err := MsgpackCodec{}.Marshal(map[string]any{"small": 1, "neg": -3, "big": uint64(1) << 40, "huge": uint64(math.MaxUint64), "f": float32(1.5), "list": []any{int8(2)}})
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := (MsgpackCodec{}).Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"small": int64(1), "neg": int64(-3), "big": int64(1) << 40, "huge": uint64(math.MaxUint64), "f": 1.5, "list": []any{int64(2)}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("decoded %#v, want %#v", v, want)
	}
}

// recordBound is what decoding a stored record may allocate: the codec's
// bound, plus a copy of each value the record keeps.
var recordBound = decodetest.Bound{Base: decodetest.CodecBound.Base, PerByte: decodetest.CodecBound.PerByte + 2}

// checkRecord checks what f makes of data: the decode allocates within
// recordBound and fails only with errCorrupt, and a record that decodes
// encodes again into bytes that decode to the same record, a fixed point
// after that first encoding.
func checkRecord(t *testing.T, f format, data []byte) {
	t.Helper()
	var rec record
	var err error
	decodetest.CheckAlloc(t, recordBound, len(data), func() { rec, err = f.decode(data) })
	if err != nil {
		if !errors.Is(err, errCorrupt) {
			t.Fatalf("%T: %x: error %v is not errCorrupt", f, data, err)
		}
		return
	}
	enc := func(rec record) record {
		t.Helper()
		b, err := f.encode(&rec)
		if err != nil {
			t.Fatalf("%T: %x decodes as %+v, which does not encode again: %v", f, data, rec, err)
		}
		again, err := f.decode(b)
		if err != nil {
			t.Fatalf("%T: %x decodes as %+v, which encodes as %x, which does not decode: %v", f, data, rec, b, err)
		}
		return again
	}
	once := enc(rec)
	keys := func(r record) []string { return slices.Sorted(maps.Keys(r.Values)) }
	if once.Created != rec.Created || once.Permanent != rec.Permanent || !slices.Equal(keys(once), keys(rec)) {
		t.Fatalf("%T: %x decodes as %+v, but after encoding as %+v", f, data, rec, once)
	}
	if twice := enc(once); !reflect.DeepEqual(twice, once) {
		t.Fatalf("%T: %x: encoding %+v again gives %+v", f, data, once, twice)
	}
}

// recordSeeds are valid records in each format, and hostile bytes.
func recordSeeds(f *testing.F, formats ...format) {
	for _, b := range hostileMsgpack {
		f.Add(b)
	}
	for _, fm := range formats {
		var codec cache.Codec = MsgpackCodec{} // Flask's values
		if n, ok := fm.(nativeFormat); ok {
			codec = n.codec
		}
		seven, err := codec.Marshal(7)
		if err != nil {
			f.Fatal(err)
		}
		for _, rec := range []record{
			{},
			{Values: map[string]raw{"n": seven, "null": nil}, Created: 1700000000123, Permanent: true},
		} {
			b, err := fm.encode(&rec)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// FuzzNativeRecord checks checkRecord for the native format with each of
// the module's codecs.
func FuzzNativeRecord(f *testing.F) {
	formats := []format{nativeFormat{cache.CBORCodec{}}, nativeFormat{cache.JSONCodec{}}, nativeFormat{MsgpackCodec{}}}
	recordSeeds(f, formats...)
	f.Add([]byte(`{"values":{"a":[1, 2],"b":null,"c":"<"},"created":5,"permanent":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fm := range formats {
			checkRecord(t, fm, data)
		}
	})
}

// FuzzFlaskRecord checks checkRecord for Flask-Session's format.
func FuzzFlaskRecord(f *testing.F) {
	recordSeeds(f, flaskFormat{})
	for _, name := range []string{"session.msgpack", "not_permanent.msgpack", "sorted.msgpack"} {
		b, err := os.ReadFile("testdata/flask/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRecord(t, flaskFormat{}, data)
	})
}
