package promobs

import (
	"sync/atomic"
	"unsafe"

	"github.com/bulwarkrpc/bulwark/internal/cowmap"
)

// cache maps a label key to the metric children it stands for: an unbounded cowmap.Map, so
// reads of a known key take one atomic load and one lookup in an immutable map, with no lock and
// no allocation, and new keys are merged in at a bounded number of copies per key.
//
// It keeps every key (cowmap.Map.LoadOrMakeUnbounded): the label sets promobs sees are bounded by the
// configuration and MaxMethods, and a key made anew on every event (by WithLabelValues, under
// the metric vector's lock) would make the cost of recording grow with the number of services
// configured.
//
// In front of the map sits a small direct-mapped table (getHinted) for the keys events bring
// again and again. Its slot is chosen by the addresses of the key's strings, not their bytes:
// a call site passes the same string every time (a generated client's method name, a policy's
// service name, a reason constant), so finding a key there reads neither the strings' bytes
// nor the map's memory, which matters when the map is large (10 000 services) or when a gRPC
// round trip between two events has pushed it out of the CPU's caches.
type cache[K comparable, V any] struct {
	m     cowmap.Map[K, *entry[K, V]]
	front [frontSlots]atomic.Pointer[entry[K, V]]
}

// frontSlots is the size of a cache's front table: more than the label sets a process records
// often, and small enough (512 B of pointers) to stay in the CPU's caches.
const frontSlots = 64

// entry is a key and its value: the map's values, which the front table points to, so that
// putting a key in a front slot allocates nothing.
type entry[K comparable, V any] struct {
	k K
	v V
}

// hint mixes the addresses of strings into a front table slot number. Equal strings at other
// addresses get other slots, which costs a miss, never a wrong answer: a slot is checked by
// comparing keys.
func hint(ss ...string) uintptr {
	var h uintptr
	for _, s := range ss {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		h = h*31 + (p>>4 ^ p>>12)
	}
	return h
}

// get returns the value for k, making it with mk(m, k) the first time. mk runs once per key,
// under the cache's lock. Only a first use builds anything, so get allocates nothing once k is
// known.
func (c *cache[K, V]) get(m *Metrics, k K, mk func(*Metrics, K) V) V { return c.entry(m, k, mk).v }

// getHinted is get, looking k up first in the front table's slot h (see hint). A key that
// misses takes the slot over: the entry exists already, so that allocates nothing.
func (c *cache[K, V]) getHinted(h uintptr, m *Metrics, k K, mk func(*Metrics, K) V) V {
	slot := &c.front[h%frontSlots]
	if e := slot.Load(); e != nil && e.k == k {
		return e.v
	}
	e := c.entry(m, k, mk)
	slot.Store(e)
	return e.v
}

func (c *cache[K, V]) entry(m *Metrics, k K, mk func(*Metrics, K) V) *entry[K, V] {
	if e, ok := c.m.Load(k); ok {
		return e
	}
	return c.m.LoadOrMakeUnbounded(k, func(k K) *entry[K, V] { return &entry[K, V]{k: k, v: mk(m, k)} })
}

// len returns the number of keys in the cache.
func (c *cache[K, V]) len() int { return c.m.Len() }

// load returns the value for k when the map has it, without a lock.
func (c *cache[K, V]) load(k K) (V, bool) {
	if e, ok := c.m.Load(k); ok {
		return e.v, true
	}
	var zero V
	return zero, false
}

// loadHinted is load, looking k up first in the front table's slot h (see hint); a key found
// in the map takes the slot over.
func (c *cache[K, V]) loadHinted(h uintptr, k K) (V, bool) {
	slot := &c.front[h%frontSlots]
	if e := slot.Load(); e != nil && e.k == k {
		return e.v, true
	}
	if e, ok := c.m.Load(k); ok {
		slot.Store(e)
		return e.v, true
	}
	var zero V
	return zero, false
}
