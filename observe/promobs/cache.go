package promobs

import (
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/front"
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
// In front of the map sits a front.Table (getHintedBounded, loadHinted) for the label sets events
// bring again and again, found by the addresses of their strings.
type cache[K comparable, V any] struct {
	m     cowmap.Map[K, *entry[K, V]]
	front front.Table[entry[K, V]]
}

// entry is a key and its value: the map's values, which the front table points to, so that
// putting a key in a front slot allocates nothing.
type entry[K comparable, V any] struct {
	k K
	v V
}

// get returns the value for k, making it with mk(m, k) the first time. mk runs once per key,
// under the cache's lock. Only a first use builds anything, so get allocates nothing once k is
// known.
func (c *cache[K, V]) get(m *Metrics, k K, mk func(*Metrics, K) V) V { return c.entry(m, k, mk).v }

// getBounded is get for a key whose service may come from outside the configuration: a key
// in the map is found as it is; a new one is stored under bound(m, k), so that keys past
// MaxServices share their bounded key's entry and the cache keeps no key of their own.
func (c *cache[K, V]) getBounded(m *Metrics, k K, bound func(*Metrics, K) K, mk func(*Metrics, K) V) V {
	if e, ok := c.m.Load(k); ok {
		return e.v
	}
	return c.entry(m, bound(m, k), mk).v
}

// getHintedBounded is getBounded, looking k up first in the front table's slot h (front.Hint).
// A key found under itself takes the slot over (the entry exists already, so that allocates
// nothing); one stored under its bounded key does not, so that the slot never answers for
// another key.
func (c *cache[K, V]) getHintedBounded(h uintptr, m *Metrics, k K, bound func(*Metrics, K) K, mk func(*Metrics, K) V) V {
	if e := c.front.Load(h); e != nil && e.k == k {
		return e.v
	}
	e, ok := c.m.Load(k)
	if !ok {
		e = c.entry(m, bound(m, k), mk)
	}
	if e.k == k {
		c.front.Store(h, e)
	}
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

// loadHinted is load, looking k up first in the front table's slot h (front.Hint); a key found
// in the map takes the slot over.
func (c *cache[K, V]) loadHinted(h uintptr, k K) (V, bool) {
	if e := c.front.Load(h); e != nil && e.k == k {
		return e.v, true
	}
	if e, ok := c.m.Load(k); ok {
		c.front.Store(h, e)
		return e.v, true
	}
	var zero V
	return zero, false
}
