package session

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"

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
//
// Stored bytes are not trusted, and decoding never takes more memory than
// their size justifies. The msgpack library sizes maps, slices and strings
// by the lengths their headers declare, so Unmarshal first checks the data
// in one pass that allocates nothing: every declared length must fit in the
// bytes that follow it, values nest at most 32 levels (as with
// cache.CBORCodec), and nothing may follow the value (Python's
// msgpack.unpackb refuses that too). The payload of an extension (a
// time.Time is one) is taken as bytes, so it cannot be read as MessagePack:
// the library would read it as a map where it expects one, and that is an
// error. Decoding into an interface or a struct of scalars, strings, slices
// and maps then allocates at most 4 KiB plus 128 bytes per byte of data
// (FuzzMsgpackCodec checks it); a slice of elements larger than 32 bytes
// can take twice an element's size per byte.
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
	dec, err := newMsgpackDecoder(data)
	if err != nil {
		return err
	}
	defer msgpack.PutDecoder(dec)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if p, ok := v.(*any); ok {
		*p = widen(*p)
	}
	return nil
}

// newMsgpackDecoder returns a decoder of data, once checkMsgpack has found
// it fit to decode. Give it back with msgpack.PutDecoder.
func newMsgpackDecoder(data []byte) (*msgpack.Decoder, error) {
	payloads, err := checkMsgpack(data)
	if err != nil {
		return nil, err
	}
	r := &msgpackReader{payloads: payloads}
	r.Reset(data)
	dec := msgpack.GetDecoder()
	dec.Reset(r)
	dec.SetCustomStructTag("json")
	return dec, nil
}

// msgpackReader is what the msgpack decoder reads checked data through.
//
// checkMsgpack takes an extension's payload for opaque bytes, as the
// decoder of a time.Time does. But where the msgpack library expects a map
// and finds an extension, it reads the payload as a MessagePack map (the
// form it once gave registered types), and so does the decoder of a type
// registered with msgpack.RegisterExt that reads its payload as
// MessagePack: headers that were never checked would then size what it
// allocates. The library reads a value's first byte with ReadByte, and a
// payload in bulk with Read, so a ReadByte at the start of a payload means
// the payload is being read as MessagePack, and fails.
type msgpackReader struct {
	bytes.Reader
	payloads []int // offsets where payloads of extensions start, ascending
}

// errExtAsMsgpack reports an extension whose payload a decoder tried to read
// as MessagePack.
var errExtAsMsgpack = fmt.Errorf("%w: the payload of an extension cannot be read as MessagePack (found an extension where a map was expected?)", errMsgpack)

// ReadByte returns the next byte, unless it starts the payload of an
// extension.
func (r *msgpackReader) ReadByte() (byte, error) {
	if _, found := slices.BinarySearch(r.payloads, int(r.Size())-r.Len()); found {
		return 0, errExtAsMsgpack
	}
	return r.Reader.ReadByte()
}

// msgpackMaxNesting is how deep arrays and maps may nest in MessagePack
// data, as in cache.CBORCodec's. The decoder recurses once per level, on
// the stack.
const msgpackMaxNesting = 32

// errMsgpack marks MessagePack data that checkMsgpack refuses.
var errMsgpack = errors.New("session: MessagePack data is malformed or exceeds a limit")

// checkMsgpack walks the single MessagePack value that data must hold and
// refuses it unless every length it declares fits in the bytes that remain
// (a string, binary or extension its bytes; an array or map one byte per
// element, the least an element takes), it nests at most msgpackMaxNesting
// levels, and no byte follows it. Whatever the decoder then sizes by a
// header is thus bounded by the data's own length. It returns where the
// payloads of extensions start, for msgpackReader; it allocates only for
// those.
func checkMsgpack(data []byte) (payloads []int, err error) {
	// pending[d] counts the elements still to read in the open container
	// at depth d; depth 0 is the one value data holds.
	var pending [msgpackMaxNesting + 1]uint64
	pending[0] = 1
	depth, off := 0, 0
	for {
		for pending[depth] == 0 {
			if depth == 0 {
				if off != len(data) {
					return nil, fmt.Errorf("%w: %d bytes after the value", errMsgpack, len(data)-off)
				}
				return payloads, nil
			}
			depth--
		}
		pending[depth]--
		if off >= len(data) {
			return nil, fmt.Errorf("%w: data ends in the middle of a value", errMsgpack)
		}
		at := off
		c := data[off]
		off++
		var skip, elems uint64 // payload bytes; elements of a container
		var ext bool
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixint, nil, bool
		case c <= 0x8f: // fixmap
			elems = 2 * uint64(c&0x0f)
		case c <= 0x9f: // fixarray
			elems = uint64(c & 0x0f)
		case c <= 0xbf: // fixstr
			skip = uint64(c & 0x1f)
		case c == 0xc1:
			return nil, fmt.Errorf("%w: byte 0xc1 at offset %d is never used", errMsgpack, at)
		default:
			f := msgpackHeads[c-0xc4]
			if uint64(f.lenBytes) > uint64(len(data)-off) {
				return nil, fmt.Errorf("%w: data ends in the header at offset %d", errMsgpack, at)
			}
			var n uint64
			for _, b := range data[off : off+int(f.lenBytes)] {
				n = n<<8 | uint64(b)
			}
			off += int(f.lenBytes)
			ext = f.ext
			switch f.kind {
			case headFixed:
				skip = uint64(f.size)
			case headBytes:
				skip = n + uint64(f.size)
			case headArray:
				elems = n
			case headMap:
				elems = 2 * n
			}
		}
		left := uint64(len(data) - off)
		if skip > left || elems > left {
			return nil, fmt.Errorf("%w: the value at offset %d declares more than the %d bytes left", errMsgpack, at, left)
		}
		if ext && skip > 1 { // the type byte, then a payload
			payloads = append(payloads, off+1)
		}
		off += int(skip)
		if elems > 0 {
			if depth == msgpackMaxNesting {
				return nil, fmt.Errorf("%w: nested deeper than %d levels", errMsgpack, msgpackMaxNesting)
			}
			depth++
			pending[depth] = elems
		}
	}
}

// msgpackHead describes a MessagePack type byte from 0xc4 to 0xdf: lenBytes
// bytes of length follow it, then size bytes (a scalar's value or an
// extension's type byte), then for a string, binary or extension the
// length's worth of payload. A fixed extension's size counts its type byte
// and its payload.
type msgpackHead struct {
	kind     headKind
	lenBytes uint8
	size     uint8
	ext      bool
}

type headKind uint8

const (
	headFixed headKind = iota
	headBytes
	headArray
	headMap
)

var msgpackHeads = [0xe0 - 0xc4]msgpackHead{
	0xc4 - 0xc4: {headBytes, 1, 0, false}, 0xc5 - 0xc4: {headBytes, 2, 0, false}, 0xc6 - 0xc4: {headBytes, 4, 0, false}, // bin 8/16/32
	0xc7 - 0xc4: {headBytes, 1, 1, true}, 0xc8 - 0xc4: {headBytes, 2, 1, true}, 0xc9 - 0xc4: {headBytes, 4, 1, true}, // ext 8/16/32
	0xca - 0xc4: {headFixed, 0, 4, false}, 0xcb - 0xc4: {headFixed, 0, 8, false}, // float 32/64
	0xcc - 0xc4: {headFixed, 0, 1, false}, 0xcd - 0xc4: {headFixed, 0, 2, false}, 0xce - 0xc4: {headFixed, 0, 4, false}, 0xcf - 0xc4: {headFixed, 0, 8, false}, // uint
	0xd0 - 0xc4: {headFixed, 0, 1, false}, 0xd1 - 0xc4: {headFixed, 0, 2, false}, 0xd2 - 0xc4: {headFixed, 0, 4, false}, 0xd3 - 0xc4: {headFixed, 0, 8, false}, // int
	0xd4 - 0xc4: {headFixed, 0, 2, true}, 0xd5 - 0xc4: {headFixed, 0, 3, true}, 0xd6 - 0xc4: {headFixed, 0, 5, true}, 0xd7 - 0xc4: {headFixed, 0, 9, true}, 0xd8 - 0xc4: {headFixed, 0, 17, true}, // fixext 1-16
	0xd9 - 0xc4: {headBytes, 1, 0, false}, 0xda - 0xc4: {headBytes, 2, 0, false}, 0xdb - 0xc4: {headBytes, 4, 0, false}, // str 8/16/32
	0xdc - 0xc4: {headArray, 2, 0, false}, 0xdd - 0xc4: {headArray, 4, 0, false}, // array 16/32
	0xde - 0xc4: {headMap, 2, 0, false}, 0xdf - 0xc4: {headMap, 4, 0, false}, // map 16/32
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
