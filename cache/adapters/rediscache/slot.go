package rediscache

import "strings"

// groupKeys splits keys into groups that one multi-key command can carry:
// all of them on a single server, one group per hash slot on a Cluster
// (Redis refuses a command whose keys span slots, even on one node), and
// one group per hash tag on a Ring, which places a key by hashing its tag
// (or the whole key when it has none).
func groupKeys(topo topology, keys []string) [][]string {
	switch topo {
	case cluster:
		return groupBy(keys, slot)
	case ring:
		return groupBy(keys, hashTag)
	}
	return [][]string{keys}
}

func groupBy[K comparable](keys []string, by func(string) K) [][]string {
	index := make(map[K]int)
	var groups [][]string
	for _, k := range keys {
		id := by(k)
		i, ok := index[id]
		if !ok {
			i = len(groups)
			index[id] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], k)
	}
	return groups
}

// hashTag returns the part of key that Redis Cluster and go-redis's Ring
// hash: the text between the first '{' and the first '}' after it, when
// that is not empty, and otherwise the whole key.
func hashTag(key string) string {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			return key[s+1 : s+1+e]
		}
	}
	return key
}

// slot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of its hash
// tag, modulo 16384.
func slot(key string) uint16 {
	var crc uint16
	for _, b := range []byte(hashTag(key)) {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^b]
	}
	return crc % 16384
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
