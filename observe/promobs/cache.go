package promobs

import "github.com/bulwarkrpc/bulwark/internal/cowmap"

// cache maps a label key to the metric children it stands for: an unbounded cowmap.Map, so
// reads of a known key take one atomic load and one lookup in an immutable map, with no lock and
// no allocation, and new keys are merged in at a bounded number of copies per key.
//
// It keeps every key (cowmap.Map.LoadOrMakeUnbounded): the label sets promobs sees are bounded by the
// configuration and MaxMethods, and a key made anew on every event (by WithLabelValues, under
// the metric vector's lock) would make the cost of recording grow with the number of services
// configured.
type cache[K comparable, V any] struct {
	m cowmap.Map[K, V]
}

// get returns the value for k, making it with mk(m, k) the first time. mk runs once per key,
// under the cache's lock. Only a first use builds anything, so get allocates nothing once k is
// known.
func (c *cache[K, V]) get(m *Metrics, k K, mk func(*Metrics, K) V) V {
	if v, ok := c.m.Load(k); ok {
		return v
	}
	return c.slow(m, k, mk)
}

func (c *cache[K, V]) slow(m *Metrics, k K, mk func(*Metrics, K) V) V {
	return c.m.LoadOrMakeUnbounded(k, func(k K) V { return mk(m, k) })
}

// len returns the number of keys in the cache.
func (c *cache[K, V]) len() int { return c.m.Len() }

// load returns the value for k when it is in the immutable map, without a lock.
func (c *cache[K, V]) load(k K) (V, bool) { return c.m.Load(k) }
