package promobs

import "github.com/bulwarkrpc/bulwark/internal/cowmap"

// cache maps a label key to the metric children it stands for, in a copy-on-write map. Label
// sets are bounded (by the proto API and by the policies' constants), so copies stop early in
// a process's life and the hot path is one atomic load and one map lookup, with no allocation.
type cache[K comparable, V any] struct {
	cowmap.Map[K, V]
}

// get returns the value for k, making it with mk(m, k) the first time. Only a first use
// builds the closure that carries m, so calling get allocates nothing once k is known.
func (c *cache[K, V]) get(m *Metrics, k K, mk func(*Metrics, K) V) V {
	if v, ok := c.Load(k); ok {
		return v
	}
	return c.LoadOrMake(k, func(k K) V { return mk(m, k) })
}
