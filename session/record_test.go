package session

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
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
