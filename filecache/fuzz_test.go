package filecache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cachelib-go/cachelib/internal/decodetest"
)

// resum recomputes the header checksum of an entry after a test edits a
// header field, so that the edit reaches the field checks behind it.
func resum(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[36:], crc32.Checksum(b[:36], castagnoli))
	return b
}

// addSeeds gives a fuzz target valid entries and entries broken in every
// way the format can tell.
func addSeeds(f *testing.F) {
	valid := encode(nil, 1_700_000_000_123_456_789, 1_600_000_000_000_000_000, []byte("hello, world"))
	edit := func(fn func(b []byte)) []byte {
		b := bytes.Clone(valid)
		fn(b)
		return b
	}
	f.Add(valid)
	f.Add(encode(nil, 0, 0, nil))                                          // never expires, empty value
	f.Add(valid[:headerSize])                                              // value missing
	f.Add(valid[:headerSize+3])                                            // value truncated
	f.Add(valid[:20])                                                      // header truncated
	f.Add(valid[:2])                                                       // magic truncated
	f.Add([]byte{})                                                        // empty file
	f.Add(append(bytes.Clone(valid), 0))                                   // trailing byte
	f.Add(edit(func(b []byte) { b[0] = 'X' }))                             // wrong magic
	f.Add([]byte("not a cache file, just some text.....................")) // foreign
	f.Add(edit(func(b []byte) { b[4] = 2 }))                               // wrong version
	f.Add(edit(func(b []byte) { resum(b)[4] = 2 }))                        // wrong version, checksum matching the old one
	f.Add(edit(func(b []byte) { b[5] = 1; resum(b) }))                     // reserved bits set
	f.Add(edit(func(b []byte) { b[headerSize] ^= 1 }))                     // value damaged
	f.Add(edit(func(b []byte) { b[8] ^= 1 }))                              // expiry damaged
	f.Add(edit(func(b []byte) {                                            // huge length
		binary.LittleEndian.PutUint64(b[24:], 1<<62)
		resum(b)
	}))
	f.Add(edit(func(b []byte) { // a length that could be allocated, far beyond the file
		binary.LittleEndian.PutUint64(b[24:], 64<<20)
		resum(b)
	}))
	f.Add(edit(func(b []byte) { // length at the top of the range
		binary.LittleEndian.PutUint64(b[24:], math.MaxUint64)
		resum(b)
	}))
	f.Add(edit(func(b []byte) { // negative expiry
		binary.LittleEndian.PutUint64(b[8:], 1<<63)
		resum(b)
	}))

}

// checksumVariants returns b and, for input long enough to hold a header,
// b with its header checksum fixed and b with both checksums fixed. Random
// bytes almost never carry a matching checksum, so without the fixes the
// checks behind it, and the lengths they let through, would go unexplored.
func checksumVariants(b []byte) [][]byte {
	if len(b) < headerSize {
		return [][]byte{b}
	}
	fixed := bytes.Clone(b)
	binary.LittleEndian.PutUint32(fixed[32:], crc32.Checksum(fixed[headerSize:], castagnoli))
	return [][]byte{b, resum(bytes.Clone(b)), resum(fixed)}
}

// readBound is what reading an entry may allocate: the file's size, a read
// buffer when the pool has none to lend, and small change; never what a
// length in the file declares.
var readBound = decodetest.Bound{Base: bufSize + 1<<10, PerByte: 1}

func FuzzParseHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, b := range checksumVariants(b) {
			checkDecode(t, b)
		}
	})
}

func checkDecode(t *testing.T, b []byte) {
	var (
		h, dh      header
		value      []byte
		herr, derr error
	)
	decodetest.CheckAlloc(t, readBound, len(b), func() {
		h, herr = parseHeader(b)
		dh, value, derr = decode(b)
	})
	if herr != nil {
		if !errors.Is(derr, herr) {
			t.Fatalf("parseHeader failed with %v but decode with %v", herr, derr)
		}
		return
	}
	if h.length < 0 || h.length > maxLength || h.expires < 0 || h.written < 0 {
		t.Fatalf("parseHeader accepted out-of-range fields: %+v", h)
	}
	if derr != nil {
		if len(b) == headerSize+h.length && derr != errPayloadSum {
			t.Fatalf("decode of a file of the right size failed with %v", derr)
		}
		return
	}
	if dh != h {
		t.Fatalf("decode header %+v, parseHeader %+v", dh, h)
	}
	// Whatever decodes must be exactly what encode writes: one byte string
	// per entry, so nothing damaged can pass for something else.
	if re := encode(nil, h.expires, h.written, value); !bytes.Equal(re, b) {
		t.Fatalf("decode(%x) = %+v, %q, which encodes to %x", b, h, value, re)
	}
}

// FuzzLoad checks that reading an entry file, with its buffered and large
// paths, agrees with decode, and never trusts a length it has not checked.
func FuzzLoad(f *testing.F) {
	addSeeds(f)
	big := encode(nil, 0, 1, bytes.Repeat([]byte("0123456789abcdef"), bufSize/8))
	f.Add(big)
	f.Add(big[:len(big)-1])
	f.Add(append(bytes.Clone(big), 'x'))
	path := filepath.Join(f.TempDir(), "entry")
	c := &Cache{}
	const now = 1_650_000_000_000_000_000
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, b := range checksumVariants(b) {
			checkLoad(t, c, path, now, b)
		}
	})
}

// checkLoad writes b to path and checks that load agrees with decode about
// it, and allocates no more than the file holds.
func checkLoad(t *testing.T, c *Cache, path string, now int64, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		l   loaded
		err error
	)
	decodetest.CheckAlloc(t, readBound, len(b), func() {
		l.release() // from an earlier run
		l, err = c.load(path, now, true, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.release()
	h, herr := parseHeader(b)
	_, value, derr := decode(b)
	var want status
	switch {
	case herr == nil && h.expired(now):
		want = stExpired
	case derr == nil:
		want = stLive
	case errors.Is(derr, errForeign):
		want = stForeign
	default:
		want = stCorrupt
	}
	if l.st != want {
		t.Fatalf("load: status %d (%v), decode says %d (%v)", l.st, l.err, want, derr)
	}
	if want == stLive && !bytes.Equal(l.value, value) {
		t.Fatalf("load returned %d bytes, decode %d", len(l.value), len(value))
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, value := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte{0xff}, bufSize*3)} {
		b := encode(nil, 42, 7, value)
		h, v, err := decode(b)
		if err != nil || h.expires != 42 || h.written != 7 || h.length != len(value) || !bytes.Equal(v, value) {
			t.Fatalf("decode(encode(%d bytes)) = %+v, %d bytes, %v", len(value), h, len(v), err)
		}
	}
	if _, err := parseHeader([]byte("CL")); !errors.Is(err, errTruncated) {
		t.Errorf("a prefix of the magic: %v, want errTruncated", err)
	}
	if _, err := parseHeader([]byte("CX")); !errors.Is(err, errForeign) {
		t.Errorf("not the magic: %v, want errForeign", err)
	}
}
