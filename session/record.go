package session

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/vmihailenco/msgpack/v5"
)

// raw is one session value as the codec encoded it. A record keeps values
// in this form, so a request decodes only the values it reads, decodes them
// straight into the caller's type (GetAs), and writes back the values of
// other requests byte for byte when it merges its changes.
//
// raw implements the raw-value hooks of the three codec libraries this
// module uses (fxamacker/cbor, encoding/json, vmihailenco/msgpack), so with
// those codecs a record is one plain nested map, readable by any program. A
// codec built on a library that ignores the hooks stores each value as a
// byte string holding that codec's own encoding, which round-trips just as
// well.
//
// An empty raw stands for a null that a decoder handed over as a nil slice.
type raw []byte

var (
	cborNull    = []byte{0xf6}
	jsonNull    = []byte("null")
	msgpackNull = []byte{0xc0}
)

func orNull(r raw, null []byte) ([]byte, error) {
	if len(r) == 0 {
		return null, nil
	}
	return r, nil
}

// MarshalCBOR returns the CBOR encoding of the value.
func (r raw) MarshalCBOR() ([]byte, error) { return orNull(r, cborNull) }

// MarshalJSON returns the JSON encoding of the value.
func (r raw) MarshalJSON() ([]byte, error) { return orNull(r, jsonNull) }

// MarshalMsgpack returns the MessagePack encoding of the value.
func (r raw) MarshalMsgpack() ([]byte, error) { return orNull(r, msgpackNull) }

// The decoders may lend a slice of their input, which belongs to the
// adapter (cache.View), so each value is copied.

// UnmarshalCBOR keeps a copy of the CBOR encoding of the value.
func (r *raw) UnmarshalCBOR(b []byte) error { *r = append(raw(nil), b...); return nil }

// UnmarshalJSON keeps a copy of the JSON encoding of the value.
func (r *raw) UnmarshalJSON(b []byte) error { *r = append(raw(nil), b...); return nil }

// UnmarshalMsgpack keeps a copy of the MessagePack encoding of the value.
func (r *raw) UnmarshalMsgpack(b []byte) error { *r = append(raw(nil), b...); return nil }

// record is what the store holds for one session.
type record struct {
	Values map[string]raw `json:"values"`
	// Created is when the session was first stored, in Unix milliseconds. It
	// is 0 in records that do not carry it (Flask-Session's), whose
	// lifetime then counts from each save, as in Flask.
	Created   int64 `json:"created,omitempty"`
	Permanent bool  `json:"permanent"`
}

// A format turns records into stored bytes and back.
type format interface {
	decode(b []byte) (record, error)
	encode(rec *record) ([]byte, error)
}

// errCorrupt marks stored bytes that do not decode as a record. A session
// whose record is corrupt is treated as unknown, never as a store failure.
var errCorrupt = errors.New("session: stored record does not decode")

// nativeFormat stores a record as the codec's encoding of the record
// struct: a map with the keys "values", "created" and "permanent".
type nativeFormat struct{ codec cache.Codec }

func (f nativeFormat) decode(b []byte) (record, error) {
	var rec record
	if err := f.codec.Unmarshal(b, &rec); err != nil {
		return record{}, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return rec, nil
}

func (f nativeFormat) encode(rec *record) ([]byte, error) { return f.codec.Marshal(rec) }

// flaskPermanentKey is where Flask-Session keeps session.permanent: in the
// session dict itself.
const flaskPermanentKey = "_permanent"

// flaskFormat stores a record the way Flask-Session 0.8 does: a MessagePack
// map of the session dict, including "_permanent". Keys are written in
// sorted order so equal sessions give equal bytes.
type flaskFormat struct{}

func (flaskFormat) decode(b []byte) (record, error) {
	dec, err := newMsgpackDecoder(b)
	if err != nil {
		return record{}, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	defer msgpack.PutDecoder(dec)
	n, err := dec.DecodeMapLen()
	if err != nil {
		return record{}, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	rec := record{Values: make(map[string]raw, max(n, 0))}
	for range n {
		k, err := dec.DecodeString()
		if err != nil {
			return record{}, fmt.Errorf("%w: %w", errCorrupt, err)
		}
		if k == flaskPermanentKey {
			if rec.Permanent, err = dec.DecodeBool(); err != nil {
				return record{}, fmt.Errorf("%w: %s: %w", errCorrupt, flaskPermanentKey, err)
			}
			continue
		}
		v, err := dec.DecodeRaw()
		if err != nil {
			return record{}, fmt.Errorf("%w: %w", errCorrupt, err)
		}
		rec.Values[k] = raw(v)
	}
	return rec, nil
}

func (flaskFormat) encode(rec *record) ([]byte, error) {
	keys := make([]string, 0, len(rec.Values)+1)
	for k := range rec.Values {
		if k != flaskPermanentKey {
			keys = append(keys, k)
		}
	}
	keys = append(keys, flaskPermanentKey)
	slices.Sort(keys)

	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	if err := enc.EncodeMapLen(len(keys)); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := enc.EncodeString(k); err != nil {
			return nil, err
		}
		var err error
		if k == flaskPermanentKey {
			err = enc.EncodeBool(rec.Permanent)
		} else {
			err = enc.Encode(rec.Values[k])
		}
		if err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
