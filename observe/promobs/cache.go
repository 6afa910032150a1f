package promobs

import (
	"sync"
	"sync/atomic"
)

// cache maps a label key to the metric children it stands for. Reads of a known key take one
// atomic load and one lookup in an immutable map, with no lock and no allocation. New keys go
// to a small map under a mutex and are merged into a fresh immutable map once there are as many
// of them as known keys (so each key is copied a bounded number of times on average, however
// many keys there are), or once lookups that missed the immutable map have taken the mutex
// often enough to pay for the copy.
//
// Unlike internal/cowmap, a cache keeps every key: the label sets promobs sees are bounded by
// the configuration and MaxMethods, and a key that were made anew on every event (by
// WithLabelValues, under the metric vector's lock) would make the cost of recording grow with
// the number of services configured.
type cache[K comparable, V any] struct {
	read atomic.Pointer[map[K]V] // immutable once stored

	mu     sync.Mutex
	dirty  map[K]V // Guarded by mu: keys made since read was stored, not in read.
	misses int     // Guarded by mu: lookups that missed read since it was stored.
}

// get returns the value for k, making it with mk(m, k) the first time. mk runs once per key,
// under the cache's lock. Only a first use builds anything, so get allocates nothing once k is
// known.
func (c *cache[K, V]) get(m *Metrics, k K, mk func(*Metrics, K) V) V {
	if p := c.read.Load(); p != nil {
		if v, ok := (*p)[k]; ok {
			return v
		}
	}
	return c.slow(m, k, mk)
}

func (c *cache[K, V]) slow(m *Metrics, k K, mk func(*Metrics, K) V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	read := c.read.Load()
	n := 0
	if read != nil {
		if v, ok := (*read)[k]; ok {
			return v
		}
		n = len(*read)
	}
	c.misses++
	v, ok := c.dirty[k]
	if !ok {
		v = mk(m, k)
		if c.dirty == nil {
			c.dirty = map[K]V{}
		}
		c.dirty[k] = v
	}
	// Merge when the new keys are as many as the known ones (geometric growth: a bounded
	// number of copies per key), or when lookups that took the lock since the last merge
	// have cost as much as one (a key just added and then used often).
	if len(c.dirty) >= n || c.misses >= max(n/8, 8) {
		next := make(map[K]V, n+len(c.dirty))
		if read != nil {
			for rk, rv := range *read {
				next[rk] = rv
			}
		}
		for dk, dv := range c.dirty {
			next[dk] = dv
		}
		c.read.Store(&next)
		c.dirty, c.misses = nil, 0
	}
	return v
}

// len returns the number of keys in the cache.
func (c *cache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.dirty)
	if p := c.read.Load(); p != nil {
		n += len(*p)
	}
	return n
}

// load returns the value for k when it is in the immutable map, without a lock.
func (c *cache[K, V]) load(k K) (V, bool) {
	if p := c.read.Load(); p != nil {
		v, ok := (*p)[k]
		return v, ok
	}
	var zero V
	return zero, false
}
