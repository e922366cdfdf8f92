package filecache

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
)

// An entry file is a fixed 40-byte header followed by the value:
//
//	offset size field
//	     0    4 magic "CLFC"
//	     4    1 format version (1)
//	     5    3 reserved, zero
//	     8    8 expiry, unix nanoseconds, little endian; 0 = never
//	    16    8 time written, unix nanoseconds (orders never-expiring
//	            entries for pruning without a stat per file)
//	    24    8 value length in bytes
//	    32    4 CRC-32C of the value
//	    36    4 CRC-32C of bytes 0..35
//
// The length catches truncation and trailing garbage, the value CRC catches
// a damaged value, and the header CRC catches a damaged expiry or length
// before either is trusted (a flipped bit in the expiry would otherwise turn
// a stale entry into an immortal one). The file is never modified after it is
// renamed into place, so these checks only ever fire on real damage: a crash
// on a filesystem that reorders data and rename, a full disk, a human.
const (
	headerSize    = 40
	formatVersion = 1
	magic         = "CLFC"
	// maxLength keeps headerSize+length within an int, so a forged length
	// can never overflow a size computation or a make.
	maxLength = math.MaxInt - headerSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errForeign marks a file that does not start with our magic: it was not
// written by this package, so nothing here deletes it.
var errForeign = errors.New("filecache: not a filecache file (no magic)")

// The remaining decode errors mean "ours, but damaged": such a file reads as
// a miss and is removed.
var (
	errTruncated  = errors.New("filecache: truncated entry")
	errVersion    = errors.New("filecache: unknown format version")
	errReserved   = errors.New("filecache: reserved header bytes are not zero")
	errHeaderSum  = errors.New("filecache: header checksum mismatch")
	errBadField   = errors.New("filecache: header field out of range")
	errTrailing   = errors.New("filecache: data after the value")
	errPayloadSum = errors.New("filecache: value checksum mismatch")
)

// header is the decoded form of the fixed header.
type header struct {
	expires int64 // unix ns, 0 = never
	written int64 // unix ns
	length  int   // value length
	sum     uint32
}

// expired reports whether an entry with this header is expired at now
// (unix ns). An entry is live up to and excluding its expiry instant.
func (h header) expired(now int64) bool {
	return h.expires != 0 && now >= h.expires
}

// parseHeader decodes the fixed header at the start of b. It never looks
// past headerSize bytes and never trusts a field before the header checksum
// has matched. A b shorter than the magic that is a prefix of it counts as a
// truncated file of ours, not a foreign one: that is what an interrupted
// copy or a crash leaves behind.
func parseHeader(b []byte) (header, error) {
	n := min(len(b), len(magic))
	if string(b[:n]) != magic[:n] {
		return header{}, errForeign
	}
	if len(b) < headerSize {
		return header{}, errTruncated
	}
	if b[4] != formatVersion {
		return header{}, errVersion
	}
	if b[5]|b[6]|b[7] != 0 {
		return header{}, errReserved
	}
	if crc32.Checksum(b[:36], castagnoli) != binary.LittleEndian.Uint32(b[36:40]) {
		return header{}, errHeaderSum
	}
	expires := int64(binary.LittleEndian.Uint64(b[8:]))
	written := int64(binary.LittleEndian.Uint64(b[16:]))
	length := binary.LittleEndian.Uint64(b[24:])
	if expires < 0 || written < 0 || length > maxLength {
		return header{}, errBadField
	}
	return header{
		expires: expires,
		written: written,
		length:  int(length),
		sum:     binary.LittleEndian.Uint32(b[32:]),
	}, nil
}

// decode checks a whole entry file and returns its header and value, which
// aliases b.
func decode(b []byte) (header, []byte, error) {
	h, err := parseHeader(b)
	if err != nil {
		return header{}, nil, err
	}
	return h, b[headerSize:], checkValue(h, b[headerSize:])
}

// checkValue verifies that value is exactly what header h describes.
func checkValue(h header, value []byte) error {
	switch {
	case len(value) < h.length:
		return errTruncated
	case len(value) > h.length:
		return errTrailing
	case crc32.Checksum(value, castagnoli) != h.sum:
		return errPayloadSum
	}
	return nil
}

// encode appends the header for value, expiring at expires and written at
// written (both unix ns), then value itself, to dst.
func encode(dst []byte, expires, written int64, value []byte) []byte {
	var h [headerSize]byte
	encodeHeader(&h, expires, written, value)
	dst = append(dst, h[:]...)
	return append(dst, value...)
}

// encodeHeader fills h with the header for value.
func encodeHeader(h *[headerSize]byte, expires, written int64, value []byte) {
	copy(h[:], magic)
	h[4] = formatVersion
	binary.LittleEndian.PutUint64(h[8:], uint64(expires))
	binary.LittleEndian.PutUint64(h[16:], uint64(written))
	binary.LittleEndian.PutUint64(h[24:], uint64(len(value)))
	binary.LittleEndian.PutUint32(h[32:], crc32.Checksum(value, castagnoli))
	binary.LittleEndian.PutUint32(h[36:], crc32.Checksum(h[:36], castagnoli))
}
