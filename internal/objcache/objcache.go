package objcache

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/section"
)

// Key names one cached object.
type Key struct {
	Section section.Key
	Name    string
}

// Fingerprint is what an object is built from that changes its behaviour (see the package
// documentation).
type Fingerprint struct {
	// Value is the section's value.
	Value any
	// Uses says which of Classifier and Budget count.
	Uses       section.Uses
	Classifier codes.Overrides
	Budget     time.Duration
	// Deps are the shared objects the object captures, compared by identity: pointers (or
	// nil).
	Deps []any
}

// Same reports whether objects built from f and g behave alike; equal compares values.
func (f Fingerprint) Same(g Fingerprint, equal func(a, b any) bool) bool {
	if f.Uses != g.Uses || !slices.Equal(f.Deps, g.Deps) {
		return false
	}
	if f.Uses&section.UsesBudget != 0 && f.Budget != g.Budget {
		return false
	}
	if f.Uses&section.UsesClassifier != 0 && !sameOverrides(f.Classifier, g.Classifier) {
		return false
	}
	return equal(f.Value, g.Value)
}

func sameOverrides(a, b codes.Overrides) bool {
	return maps.Equal(a.Codes, b.Codes) && maps.Equal(a.Reasons, b.Reasons)
}

// Cache holds objects of type V by Key. The zero value is empty and ready.
type Cache[V any] struct {
	entries map[Key]*entry[V]
	retired []func() error   // closers of replaced objects
	pruned  map[Key]struct{} // keys Prune forgot, not built since
}

type entry[V any] struct {
	fp      Fingerprint
	v       V
	closers []func() error
}

// Builder builds an object. replacing is true when an object of its key exists with another
// fingerprint, or existed until Prune forgot it: an object that lives in a store of its own
// (a breaker registry) must then be made afresh, not taken back with its old state. onClose
// registers a func to run when the cache closes.
type Builder[V any] func(replacing bool, onClose func(close func() error)) (V, error)

// Get returns the object cached under k when it was built from the same fingerprint as fp
// (equal compares the values); else it builds one, caches it under k with fp, and returns
// it. The object replaced, if any, is retired: its closers run at Close. When build fails,
// the cache is unchanged and the closers build registered run at once.
//
// With refresh, build runs even when the fingerprint holds (replacing false), and what it
// returns takes the cached object's place: for objects that live in a store other owners
// share, which may have replaced them.
func (c *Cache[V]) Get(k Key, fp Fingerprint, equal func(a, b any) bool, refresh bool, build Builder[V]) (V, error) {
	old, ok := c.entries[k]
	same := ok && old.fp.Same(fp, equal)
	if same && !refresh {
		return old.v, nil
	}
	var closers []func() error
	_, pruned := c.pruned[k]
	v, err := build((ok && !same) || pruned, func(f func() error) { closers = append(closers, f) })
	if err != nil {
		for _, f := range closers {
			_ = f()
		}
		var zero V
		return zero, err
	}
	if ok {
		c.retired = append(c.retired, old.closers...)
	}
	if c.entries == nil {
		c.entries = map[Key]*entry[V]{}
	}
	c.entries[k] = &entry[V]{fp: fp, v: v, closers: closers}
	delete(c.pruned, k)
	return v, nil
}

// Each calls yield for every cached object, by section then name, until yield returns false.
func (c *Cache[V]) Each(yield func(Key, V) bool) {
	keys := slices.SortedFunc(maps.Keys(c.entries), func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Section, b.Section), cmp.Compare(a.Name, b.Name))
	})
	for _, k := range keys {
		if !yield(k, c.entries[k].v) {
			return
		}
	}
}

// Prune forgets the objects for which keep returns false: objects no configuration in force
// can use any more. Their closers run at Close, as those of replaced objects do, since calls
// in flight may still use them.
func (c *Cache[V]) Prune(keep func(Key) bool) {
	for k, e := range c.entries {
		if !keep(k) {
			c.retired = append(c.retired, e.closers...)
			delete(c.entries, k)
			if c.pruned == nil {
				c.pruned = map[Key]struct{}{}
			}
			c.pruned[k] = struct{}{}
		}
	}
}

// Len returns the number of cached objects.
func (c *Cache[V]) Len() int { return len(c.entries) }

// Close runs every closer registered, of cached and replaced objects alike, and forgets the
// objects that had any, so that a later build makes them afresh. It returns the closers'
// errors joined.
func (c *Cache[V]) Close() error {
	var errs []error
	for k, e := range c.entries {
		if len(e.closers) == 0 {
			continue
		}
		for _, f := range e.closers {
			errs = append(errs, f())
		}
		delete(c.entries, k)
	}
	for _, f := range c.retired {
		errs = append(errs, f())
	}
	c.retired = nil
	return errors.Join(errs...)
}
