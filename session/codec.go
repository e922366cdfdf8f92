package session

import (
	"bytes"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgpackCodec encodes values as MessagePack with
// github.com/vmihailenco/msgpack/v5, the format Flask-Session stores by
// default. It implements cache.Codec.
//
// Integers take their most compact form and map keys are sorted, so equal
// values always give equal bytes, and the bytes are what Python's msgpack
// and msgspec produce for the same data. Struct fields use their msgpack
// tag, then their json tag, then their name, so a struct tagged for JSON
// keeps its field names here too (CBOR does the same).
//
// Decoding into an interface gives map[string]any for maps, []any for
// arrays, int64 for integers (uint64 above math.MaxInt64), float64 for floats, string for
// strings and []byte for binary data.
type MsgpackCodec struct{}

// Marshal encodes v as MessagePack.
func (MsgpackCodec) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	enc.SetCustomStructTag("json")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes MessagePack data into v, which must be a non-nil
// pointer.
func (MsgpackCodec) Unmarshal(data []byte, v any) error {
	dec := newMsgpackDecoder(data)
	defer msgpack.PutDecoder(dec)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if p, ok := v.(*any); ok {
		*p = widen(*p)
	}
	return nil
}

func newMsgpackDecoder(data []byte) *msgpack.Decoder {
	dec := msgpack.GetDecoder()
	dec.Reset(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	return dec
}

// widen turns the sized numbers msgpack decodes into an interface (int8,
// uint16, float32, ...) into int64 (uint64 only above math.MaxInt64) and
// float64, so code reading a session does not depend on how small a number
// happened to be, nor on whether the writer encoded it as signed. It changes
// maps and slices in place.
func widen(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	case float32:
		return float64(x)
	case []any:
		for i, e := range x {
			x[i] = widen(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = widen(e)
		}
	}
	return v
}
