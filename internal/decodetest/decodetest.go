// Package decodetest holds the checks that tests and fuzz targets apply to
// the decoders of this module. Stored bytes are not trusted: whoever can
// write to a backend can hand a decoder anything, so a decoder must not let a
// length or a count that its input declares decide how much memory it takes
// (Bound, CheckAlloc), and a codec must not produce a value that it cannot
// encode again (Codec).
package decodetest

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/cachelib-go/cachelib/cache"
)

// Bound is what a decode may allocate for an input of n bytes:
// Base + PerByte×n bytes.
type Bound struct {
	Base    uint64
	PerByte uint64
}

// Of returns the bytes the bound allows for an input of n bytes.
func (b Bound) Of(n int) uint64 { return b.Base + b.PerByte*uint64(n) }

// CodecBound is what the codecs of this module (cache.CBORCodec,
// cache.JSONCodec, session.MsgpackCodec) promise to allocate at most to
// decode n bytes into an interface or a struct of scalars, strings, slices,
// maps and times: 4 KiB plus 128 bytes per byte of input. BoundFor extends
// it to slices of large elements.
var CodecBound = Bound{Base: 4 << 10, PerByte: 128}

// BoundFor returns what the codecs promise to allocate at most to decode
// into a value of type t: CodecBound, or, when t holds slices or arrays of
// elements larger than 32 bytes, twice the largest element's size plus 64
// per byte of input. One byte can declare an element, and a decoder that
// grows a slice as it goes holds up to twice what it needs.
func BoundFor(t reflect.Type) Bound {
	b := CodecBound
	b.PerByte = max(b.PerByte, 2*largestElem(t, map[reflect.Type]bool{})+64)
	return b
}

// largestElem returns the size of the largest element of a slice or array
// that a value of type t can hold, without looking into interfaces.
func largestElem(t reflect.Type, seen map[reflect.Type]bool) uint64 {
	if seen[t] {
		return 0
	}
	seen[t] = true
	var n uint64
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		n = max(uint64(t.Elem().Size()), largestElem(t.Elem(), seen))
	case reflect.Pointer:
		n = largestElem(t.Elem(), seen)
	case reflect.Map:
		n = max(largestElem(t.Key(), seen), largestElem(t.Elem(), seen))
	case reflect.Struct:
		for i := range t.NumField() {
			n = max(n, largestElem(t.Field(i).Type, seen))
		}
	}
	return n
}

// tries is how many times CheckAlloc measures a call that went over its
// bound before it believes the excess. The Go runtime counts allocation per
// process, so a goroutine of the test binary that allocates during a
// measurement (a cache's maintenance loop, the fuzzing engine) inflates it;
// a real excess shows every time.
const tries = 3

// CheckAlloc calls fn, which decodes an input of n bytes, and fails t when
// fn allocates more than b.Of(n) bytes. A call over the bound is repeated and
// only the least measurement counts, so fn must allocate the same each time
// it is called, as a decode of the same bytes into a fresh value does.
func CheckAlloc(t testing.TB, b Bound, n int, fn func()) {
	t.Helper()
	limit := b.Of(n)
	least := ^uint64(0)
	for range tries {
		least = min(least, Allocated(fn))
		if least <= limit {
			return
		}
	}
	t.Fatalf("allocated %d bytes for %d bytes of input; the bound is %d + %d×%d = %d",
		least, n, b.Base, b.PerByte, n, limit)
}

// Allocated returns the bytes the process allocated on the heap while fn
// ran.
func Allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Codec checks what c makes of data, decoded into each value that the
// targets return (each a fresh non-nil pointer): the decode allocates within
// BoundFor the value's type, and whatever decodes encodes again into bytes that decode too, so a
// value read from a cache can always be written back.
func Codec(t testing.TB, c cache.Codec, data []byte, targets ...func() any) {
	t.Helper()
	for _, target := range targets {
		var v any
		var err error
		CheckAlloc(t, BoundFor(reflect.TypeOf(target())), len(data), func() {
			v = target()
			err = c.Unmarshal(data, v)
		})
		if err != nil {
			continue
		}
		got := reflect.ValueOf(v).Elem()
		enc, err := c.Marshal(v)
		if err != nil {
			t.Fatalf("%T: %x decodes into %T as %#v, which does not encode again: %v", c, data, v, got, err)
		}
		if err := c.Unmarshal(enc, target()); err != nil {
			t.Fatalf("%T: %x decodes into %T as %#v, which encodes as %x, which does not decode: %v", c, data, v, got, enc, err)
		}
	}
}
