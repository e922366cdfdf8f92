package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

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
// intact.
//
// Stored bytes are not trusted, and decoding never takes more memory than
// their size justifies: nesting is limited to 32 levels, an array or a map to
// 1,048,576 elements, and no length the data declares counts before the data
// is there. Decoding into an interface or a struct of scalars, strings,
// slices and maps allocates at most 4 KiB plus 128 bytes per byte of data
// (FuzzCBORCodec checks it); a slice of elements larger than 32 bytes can
// take twice an element's size per byte.
//
// Unmarshal refuses a value that Marshal could not encode again, so a value
// read from a cache can always be written back. The only such values are
// times: a time.Time is written as RFC 3339 text, which has room for the
// years 0 to 9999 only, but CBOR can also carry a time as a number of
// seconds (tag 1, or any number decoded into a time.Time) that lands
// millions of years away. Such a time is an error wrapping the encoder's
// *cbor.UnsupportedValueError, rather than a value whose next Set fails:
// refusing costs nothing a program could have stored with this codec, and
// encoding/json's time.Time likewise accepts nothing it could not write.
type CBORCodec struct{}

// Marshal encodes v as CBOR.
func (CBORCodec) Marshal(v any) ([]byte, error) { return cborEnc.Marshal(v) }

// Unmarshal decodes CBOR data into v, which must be a non-nil pointer.
func (CBORCodec) Unmarshal(data []byte, v any) error {
	if err := cborDec.Unmarshal(data, v); err != nil {
		return err
	}
	if !mayHoldFarTime(data, reflect.TypeOf(v)) {
		return nil
	}
	// Encoding again is the exact test of what Marshal accepts; it runs only
	// for the few values that can hold a time out of range.
	if _, err := cborEnc.Marshal(v); err != nil {
		if uv := new(cbor.UnsupportedValueError); errors.As(err, &uv) {
			return fmt.Errorf("cache: CBOR data decodes to a value CBORCodec cannot encode again: %w", err)
		}
	}
	return nil
}

// farSecondsHeads are the initial bytes of the CBOR numbers that can count
// the seconds of a time outside the years 0 to 9999: integers of 8 bytes
// (smaller ones stay within 2^32 seconds of 1970), and floats of 4 and 8
// bytes (a half float stays under 65,504).
const farSecondsHeads = "\x1b\x3b\xfa\xfb"

// tag1Head is the initial byte of CBOR tag 1, a time in epoch seconds.
const tag1Head = 0xc1

// mayHoldFarTime reports whether decoding data into t may have made a
// time.Time that RFC 3339 cannot write. Such a time needs a number of
// seconds beyond 2^32; into an interface left nil, as a decoder's fresh
// value has it, only tag 1 makes a time at all.
// The bytes are looked for anywhere, so a string that contains them counts
// too: the answer may be a needless yes, never a wrong no.
func mayHoldFarTime(data []byte, t reflect.Type) bool {
	reach := timeReachOf(t)
	if reach == timeUnreachable || !bytes.ContainsAny(data, farSecondsHeads) {
		return false
	}
	return reach == timeTyped || bytes.IndexByte(data, tag1Head) >= 0
}

// timeReach is how a decoded time.Time can get into a value of some type.
type timeReach uint8

const (
	timeUnreachable timeReach = iota
	timeThroughInterface
	timeTyped
)

// timeReaches caches timeReach by type: decoders see few types, many times.
var timeReaches sync.Map // reflect.Type -> timeReach

var timeType = reflect.TypeFor[time.Time]()

func timeReachOf(t reflect.Type) timeReach {
	if r, ok := timeReaches.Load(t); ok {
		return r.(timeReach)
	}
	r := findTimeReach(t, map[reflect.Type]bool{})
	timeReaches.Store(t, r)
	return r
}

// findTimeReach looks through t for a time.Time or an interface, as deep
// as a decoder can set values; seen stops it at recursive types.
func findTimeReach(t reflect.Type, seen map[reflect.Type]bool) timeReach {
	if t == timeType {
		return timeTyped
	}
	if seen[t] {
		return timeUnreachable
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return timeThroughInterface
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return findTimeReach(t.Elem(), seen)
	case reflect.Map:
		return max(findTimeReach(t.Key(), seen), findTimeReach(t.Elem(), seen))
	case reflect.Struct:
		r := timeUnreachable
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() || f.Anonymous {
				r = max(r, findTimeReach(f.Type, seen))
			}
		}
		return r
	}
	return timeUnreachable
}

// JSONCodec encodes values with encoding/json, for data that other programs
// read too.
//
// Decoding checks the whole input before it allocates for it, and into an
// interface or a struct of scalars, strings, slices and maps takes at most
// 4 KiB plus 128 bytes per byte of data (FuzzJSONCodec checks it), as
// CBORCodec. Whatever it decodes encodes again: its time.Time accepts only
// RFC 3339 text, which always fits.
type JSONCodec struct{}

// Marshal encodes v as JSON.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON data into v, which must be a non-nil pointer.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
