package cache

import (
	"encoding/json"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// Codec turns values into the bytes an Adapter stores and back.
// Implementations must be safe for concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// CBOR limits. Stored bytes are not trusted: whoever can write to the backend
// could hand the decoder a hostile value, so nesting and the number of
// elements a value may declare are bounded (CBOR also refuses any length
// larger than the data actually present).
const (
	cborMaxNesting  = 32
	cborMaxElements = 1 << 20
)

var (
	cborEnc cbor.EncMode
	cborDec cbor.DecMode
)

func init() {
	var err error
	// Times keep nanoseconds and their zone offset; the CBOR default would
	// truncate them to whole seconds.
	cborEnc, err = cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.EncMode()
	if err != nil {
		panic(err)
	}
	cborDec, err = cbor.DecOptions{
		MaxNestedLevels:  cborMaxNesting,
		MaxArrayElements: cborMaxElements,
		MaxMapPairs:      cborMaxElements,
		// Maps decoded into an interface come out as map[string]any,
		// as encoding/json does, instead of map[any]any.
		DefaultMapType: reflect.TypeFor[map[string]any](),
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// CBORCodec encodes values as CBOR (RFC 8949) with github.com/fxamacker/cbor.
// It is the default codec: compact, fast, and it keeps []byte and time.Time
// intact. Decoding is bounded (32 levels of nesting, 1,048,576 elements per
// array or map) so hostile bytes cannot exhaust memory.
type CBORCodec struct{}

// Marshal encodes v as CBOR.
func (CBORCodec) Marshal(v any) ([]byte, error) { return cborEnc.Marshal(v) }

// Unmarshal decodes CBOR data into v, which must be a non-nil pointer.
func (CBORCodec) Unmarshal(data []byte, v any) error { return cborDec.Unmarshal(data, v) }

// JSONCodec encodes values with encoding/json, for data that other programs
// read too.
type JSONCodec struct{}

// Marshal encodes v as JSON.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON data into v, which must be a non-nil pointer.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
