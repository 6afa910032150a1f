// Package cowmap is a copy-on-write map for keys learnt once and read on every call: the full
// methods a policy has seen, the label sets a metrics sink has seen. Reads take one atomic load
// and one map lookup, with no lock and no allocation; adding a key copies the map under a
// mutex, which stops early in a process's life since such key sets are bounded.
//
// A Map holds at most MaxKeys keys, so that keys that are not bounded after all (method names
// from user input, a generic proxy) can neither grow it nor make each new key's copy cost grow
// with them: past MaxKeys, LoadOrMake makes the value of a new key every time, without
// storing it, at a cost that does not depend on how many keys came before.
package cowmap

import (
	"sync"
	"sync/atomic"
)

// MaxKeys is the most keys a Map stores.
const MaxKeys = 1024

// Map is a copy-on-write map. The zero value is an empty map ready to use; a Map must not be
// copied after first use. It is safe for concurrent use.
type Map[K comparable, V any] struct {
	mu sync.Mutex // serialises writers
	p  atomic.Pointer[map[K]V]
}

// Load returns the value for k and whether there is one. It allocates nothing.
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
	if p := m.p.Load(); p != nil {
		if v, ok := (*p)[k]; ok {
			return v
		}
		if len(*p) >= MaxKeys {
			return mk(k) // full: no lock, no copy
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.p.Load()
	n := 0
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
		n = len(*old)
	}
	if n >= MaxKeys {
		return mk(k)
	}
	next := make(map[K]V, n+1)
	if old != nil {
		for ok, ov := range *old {
			next[ok] = ov
		}
	}
	v := mk(k)
	next[k] = v
	m.p.Store(&next)
	return v
}
