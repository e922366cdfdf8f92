package memcachedcache

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// Memcached keys are at most 250 bytes of anything but spaces and control
// characters. A cache key, and the prefix, can be any string, so each is
// stored as one "part": the string itself when it is already a legal
// fragment that does not start with hashMark, or else hashMark followed by
// the unpadded base64url SHA-256 of the string (44 bytes). A part that
// passes through never starts with hashMark and an encoded one always does,
// so a raw key that looks like an encoded one ("#" + 43 characters) is
// itself encoded and cannot meet the encoding of another key; two encoded
// parts meet only if SHA-256 collides.
//
// The key of an entry on the server is
//
//	prefix part | generation in base 36 | key part
//
// The prefix part never contains '|' (a prefix with one is encoded), and
// the generation is base-36 digits, so the three fields split apart in one
// way only: different (prefix, generation, key) triples give different
// server keys. The generation of a prefix lives under "prefix part|name
// part", where the name ("gen" unless WithGenerationName says otherwise) is
// a part without '|': one '|' where entry keys have two, so a generation is
// never mistaken for an entry.
const (
	maxKeyLen = 250
	hashMark  = '#'
	// encodedLen is the length of an encoded part.
	encodedLen = 1 + 43
	// maxGenLen is the length of the largest generation in base 36.
	maxGenLen = 13
	// maxPrefixLen is the longest prefix stored as is; a longer one is
	// encoded. It leaves room for the generation and an encoded key.
	maxPrefixLen = 128
	sep          = '|'
)

// legal reports whether s may be part of a memcached key. gomemcache
// refuses bytes up to ' ' and DEL; bytes from 0x80 (UTF-8) are fine.
func legal(s string, allowSep bool) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == sep && !allowSep {
			return false
		}
	}
	return true
}

// part returns s when it can be stored as is within limit bytes, and its
// encoded form otherwise.
func part(s string, limit int, allowSep bool) string {
	if len(s) <= limit && (s == "" || s[0] != hashMark) && legal(s, allowSep) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	var b [encodedLen]byte
	b[0] = hashMark
	base64.RawURLEncoding.Encode(b[1:], sum[:])
	return string(b[:])
}

// keyPrefix is what every entry key of a generation starts with.
func keyPrefix(prefix string, gen uint64) string {
	b := make([]byte, 0, len(prefix)+maxGenLen+2)
	b = append(b, prefix...)
	b = append(b, sep)
	b = strconv.AppendUint(b, gen, 36)
	return string(append(b, sep))
}

// maxRawKey is the longest key stored as is after a prefix part of
// prefixLen bytes: the rest is room for any generation and both separators.
func maxRawKey(prefixLen int) int {
	return maxKeyLen - prefixLen - maxGenLen - 2
}
