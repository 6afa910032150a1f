package promobs

import (
	"sync"
	"sync/atomic"
)

// cache maps a label key to the metric children it stands for. Reads are lock-free: the map
// behind p is never written after it is published; a new key copies the map under mu. Label
// sets are bounded (by the proto API and by the policies' constants), so copies stop early in
// a process's life and the hot path is one atomic load and one map lookup, with no allocation.
type cache[K comparable, V any] struct {
	mu sync.Mutex // serialises writers
	p  atomic.Pointer[map[K]V]
}

// get returns the value for k, making it with mk(m, k) the first time. mk is a plain function,
// not a closure, so that calling get allocates nothing once k is known.
func (c *cache[K, V]) get(m *Metrics, k K, mk func(*Metrics, K) V) V {
	if p := c.p.Load(); p != nil {
		if v, ok := (*p)[k]; ok {
			return v
		}
	}
	return c.add(m, k, mk)
}

func (c *cache[K, V]) add(m *Metrics, k K, mk func(*Metrics, K) V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.p.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	next := make(map[K]V, 1+lenOf(old))
	if old != nil {
		for ok, ov := range *old {
			next[ok] = ov
		}
	}
	v := mk(m, k)
	next[k] = v
	c.p.Store(&next)
	return v
}

func lenOf[K comparable, V any](p *map[K]V) int {
	if p == nil {
		return 0
	}
	return len(*p)
}
