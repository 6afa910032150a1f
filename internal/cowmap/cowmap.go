// Package cowmap is a copy-on-write map for keys learnt once and read on every call: the full
// methods a policy has seen, the label sets a metrics sink has seen. Reads take one atomic load
// and one map lookup, with no lock and no allocation. New keys are added to a small map under a
// mutex and merged into a fresh read-only map once they are as many as the keys already there
// (so each key is copied a bounded number of times on average, however many keys there are),
// or once lookups that had to take the mutex have paid for a copy (a key just added and then
// read often).
//
// A Map holds at most MaxKeys keys, so that keys that are not bounded after all (method names
// from user input, a generic proxy) cannot grow it without end: past MaxKeys, LoadOrMake makes
// the value of a new key every time, without storing it, at a cost that does not depend on how
// many keys came before. MaxKeys is far above the methods a real configuration has, so that the
// per-call cost of a policy does not change with the number of methods it serves (issue 20).
// MaxKeys bounds the number of keys, not their size: callers whose keys are names a call
// brings keep those longer than grpcmethod.MaxKeptName out of a Map (attempt.Methods makes
// their values on every call, as past MaxKeys), so that what a Map keeps stays bounded in bytes.
package cowmap

import (
	"sync"
	"sync/atomic"
)

// MaxKeys is the most keys a Map stores.
const MaxKeys = 1 << 14

// Map is a copy-on-write map. The zero value is an empty map ready to use; a Map must not be
// copied after first use. It is safe for concurrent use.
type Map[K comparable, V any] struct {
	p atomic.Pointer[map[K]V] // read-only once stored

	mu     sync.Mutex
	dirty  map[K]V // Guarded by mu: keys made since p was stored, not in it.
	misses int     // Guarded by mu: LoadOrMake calls that missed p since it was stored.
}

// Load returns the value for k and whether there is one in the read-only map; a key added
// recently may be found only by LoadOrMake. It allocates nothing.
func (m *Map[K, V]) Load(k K) (V, bool) {
	if p := m.p.Load(); p != nil {
		v, ok := (*p)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// LoadOrMake returns the value for k, making it with mk(k) the first time. mk runs at most
// once per key, under the map's lock: it must not use the map. Once the map holds MaxKeys
// keys, a new key's value is made on every call and not stored. Callers on a hot path call Load
// first, so that building mk (a closure, say) costs only on the first use of a key.
func (m *Map[K, V]) LoadOrMake(k K, mk func(K) V) V {
	v, _ := m.loadOrMake(k, mk, true)
	return v
}

// LoadOrMakeKept is LoadOrMake that also reports whether the map holds the value it returns:
// false for a new key's value made once the map is full, which the next call makes anew. A
// caller that keeps values elsewhere too (a cache in front of the map) keeps those alone.
func (m *Map[K, V]) LoadOrMakeKept(k K, mk func(K) V) (V, bool) { return m.loadOrMake(k, mk, true) }

// LoadOrMakeUnbounded is LoadOrMake without the MaxKeys bound: every new key is stored. It is
// for keys a caller knows to be bounded by its configuration (promobs' label sets, themselves
// capped by MaxMethods), where making a value anew on every use would cost more per call the
// more keys there are.
func (m *Map[K, V]) LoadOrMakeUnbounded(k K, mk func(K) V) V {
	v, _ := m.loadOrMake(k, mk, false)
	return v
}

// loadOrMake returns k's value and whether the map holds it (see LoadOrMakeKept).
func (m *Map[K, V]) loadOrMake(k K, mk func(K) V, bounded bool) (V, bool) {
	if v, ok := m.Load(k); ok {
		return v, true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	read := m.p.Load()
	n := 0
	if read != nil {
		if v, ok := (*read)[k]; ok {
			return v, true
		}
		n = len(*read)
	}
	m.misses++
	v, ok := m.dirty[k]
	if !ok {
		if bounded && n+len(m.dirty) >= MaxKeys {
			return mk(k), false // full: not stored
		}
		v = mk(k)
		if m.dirty == nil {
			m.dirty = map[K]V{}
		}
		m.dirty[k] = v
	}
	if len(m.dirty) >= n || m.misses >= max(n/8, 8) {
		m.mergeLocked(read)
	}
	return v, true
}

// Flush merges the keys added recently into the read-only map, so that Load finds every key
// stored so far. A caller that stops calling LoadOrMake (a bound reached) calls it once, else
// the keys added last would be found by LoadOrMake only.
func (m *Map[K, V]) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.dirty) > 0 {
		m.mergeLocked(m.p.Load())
	}
}

// mergeLocked stores a read-only map of read's keys and the dirty ones. m.mu must be held.
func (m *Map[K, V]) mergeLocked(read *map[K]V) {
	n := 0
	if read != nil {
		n = len(*read)
	}
	next := make(map[K]V, n+len(m.dirty))
	if read != nil {
		for rk, rv := range *read {
			next[rk] = rv
		}
	}
	for dk, dv := range m.dirty {
		next[dk] = dv
	}
	m.p.Store(&next)
	m.dirty, m.misses = nil, 0
}

// Len returns the number of keys the map holds.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.dirty)
	if p := m.p.Load(); p != nil {
		n += len(*p)
	}
	return n
}
