// Package front is a small direct-mapped table of pointers, put in front of a map that calls
// look up by the same strings again and again: a slot is chosen by the addresses of the key's
// strings, not their bytes. A call site passes the same string every time (a generated
// client's method name, a policy's service name, a reason constant), so a key found in its
// slot costs neither hashing its bytes nor reading the map's memory, which matters when the
// map is large or when a gRPC round trip has pushed it out of the CPU's caches.
//
// The table holds pointers to values that carry their own key, made and kept by the map the
// table stands in front of: callers compare the key, and a miss stores the map's own value in
// the slot, so that two keys sharing a slot take it in turn without allocating. Equal strings
// at other addresses get other slots, which costs a miss, never a wrong answer.
package front

import (
	"sync/atomic"
	"unsafe"
)

// Slots is the number of slots of a Table: more than the keys a process uses often, and
// small enough (512 B of pointers) to stay in the CPU's caches.
const Slots = 64

// Table is a direct-mapped table of Slots pointers. The zero value is empty and ready; it is
// safe for concurrent use.
type Table[T any] struct {
	slots [Slots]atomic.Pointer[T]
}

// Hint mixes the addresses of ss into a slot number for Load and Store.
func Hint(ss ...string) uintptr {
	var h uintptr
	for _, s := range ss {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		h = h*31 + (p>>4 ^ p>>12)
	}
	return h
}

// Load returns the value in slot h (nil when empty): the caller checks its key.
func (t *Table[T]) Load(h uintptr) *T { return t.slots[slot(h)].Load() }

// Store puts v in slot h, in place of whatever was there.
func (t *Table[T]) Store(h uintptr, v *T) { t.slots[slot(h)].Store(v) }

// slot is the slot of hint h.
func slot(h uintptr) uintptr { return h % Slots }

// Colliding returns two of keys that share a slot, in the order given, and false when no two
// do: for tests of a table's users that must hold when keys take a slot from each other.
func Colliding(keys ...string) (a, b string, ok bool) {
	seen := map[uintptr]string{}
	for _, k := range keys {
		s := slot(Hint(k))
		if other, found := seen[s]; found {
			return other, k, true
		}
		seen[s] = k
	}
	return "", "", false
}
