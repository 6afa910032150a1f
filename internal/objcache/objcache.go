package objcache

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/runall"
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
	kept    bool // staged by Retune: v and closers are the cached entry's
}

// Builder builds an object. replacing is true when an object of its key exists with another
// fingerprint, or existed until Prune forgot it: an object that lives in a store of its own
// (a breaker registry) must then be made afresh, not taken back with its old state. onClose
// registers a func to run when the cache closes (or at once, when the object is dropped by a
// Rollback).
type Builder[V any] func(replacing bool, onClose func(close func() error)) (V, error)

// Get returns the object cached under k when it was built from the same fingerprint as fp
// (equal compares the values); else it builds one, caches it under k with fp, and returns
// it. The object replaced, if any, is retired: its closers run at Close. When build fails (or
// panics), the cache is unchanged and the closers build registered run at once.
//
// With refresh, build runs even when the fingerprint holds (replacing false), and what it
// returns takes the cached object's place: for objects that live in a store other owners
// share, which may have replaced them.
//
// Get is a transaction of one Get, committed when build succeeds (see Begin).
func (c *Cache[V]) Get(k Key, fp Fingerprint, equal func(a, b any) bool, refresh bool, build Builder[V]) (V, error) {
	t := c.Begin()
	v, err := t.Get(k, fp, equal, refresh, build)
	if err != nil {
		_ = t.Rollback() // nothing staged: the failed build's closers ran already
		return v, err
	}
	t.Commit()
	return v, nil
}

// Txn is a staged change of a Cache: the objects built by its Gets, which the cache holds
// only once Commit publishes them, so that a reload whose later objects fail to build leaves
// the cache as it was (Rollback). Begin makes one.
type Txn[V any] struct {
	c      *Cache[V]
	staged map[Key]*entry[V] // built in the transaction, by key
	order  []Key             // staged's keys, in the order first built
	// dropped are the closers of objects built in the transaction and replaced in it by
	// another of the same key and another fingerprint: a chain built in the transaction may
	// use them, so Commit retires them; Rollback runs them.
	dropped []func() error
	closers []func() error // of every object built in the transaction, in the order registered
	applies []func()       // of the objects Retune kept, run at Commit
	done    bool
}

// Begin starts a transaction on c. Until it ends (Commit or Rollback), its Gets leave c as
// it is; c must not be changed by other means (Get, Prune, Close) meanwhile, and at most one
// transaction of c may be open at a time. Each reads what c holds, not what is staged.
func (c *Cache[V]) Begin() *Txn[V] { return &Txn[V]{c: c} }

// Get is Cache.Get within t: an object built is staged, not cached, and the object it would
// replace stays cached (and not retired) until Commit. An object staged under k by an earlier
// Get of t with the same fingerprint is returned as it is, also with refresh (the store that
// refresh reads was read in this transaction, and what t's builds put in such a store is
// published at Commit, not before), so that every chain of a reload that shares an object
// gets the same one. A staged object replaced by a later Get of t with another fingerprint is
// dropped (see Txn.dropped).
func (t *Txn[V]) Get(k Key, fp Fingerprint, equal func(a, b any) bool, refresh bool, build Builder[V]) (V, error) {
	if t.done {
		panic("objcache: Get on a transaction that has ended")
	}
	var replacing bool
	if st, ok := t.staged[k]; ok {
		if st.fp.Same(fp, equal) {
			return st.v, nil
		}
		replacing = true
	} else {
		old, ok := t.c.entries[k]
		same := ok && old.fp.Same(fp, equal)
		if same && !refresh {
			return old.v, nil
		}
		_, pruned := t.c.pruned[k]
		replacing = (ok && !same) || pruned
	}
	var closers []func() error
	built := false
	defer func() {
		if !built { // build failed, or panicked: what it registered is released at once
			for _, f := range closers {
				_ = f()
			}
		}
	}()
	v, err := build(replacing, func(f func() error) { closers = append(closers, f) })
	if err != nil {
		var zero V
		return zero, err
	}
	built = true
	t.closers = append(t.closers, closers...)
	if st, ok := t.staged[k]; ok {
		if !st.kept { // a kept object's closers are the cached one's, which Commit retires
			t.dropped = append(t.dropped, st.closers...)
		}
	} else {
		t.order = append(t.order, k)
	}
	if t.staged == nil {
		t.staged = map[Key]*entry[V]{}
	}
	t.staged[k] = &entry[V]{fp: fp, v: v, closers: closers}
	return v, nil
}

// Retune keeps the object cached under k for fp, when nothing is staged under k yet and the
// fingerprint it was built from differs from fp in its Value alone (equal says the values
// differ; Uses, Classifier where used, Budget where used and Deps are the same): retune then
// returns how to give the object fp's Value in place (apply), or says it cannot (false). A
// kept object is staged under fp with the closers it registered when built (Commit does not
// retire them: they run once, as a cached object's do), and returned with true; apply runs at
// Commit, after the staged objects are published, and never if t rolls back, so that the
// object keeps its settings until then. Otherwise Retune changes nothing and returns false:
// Get builds the object.
func (t *Txn[V]) Retune(k Key, fp Fingerprint, equal func(a, b any) bool, retune func(v V) (apply func(), ok bool)) (V, bool) {
	var zero V
	if t.done {
		panic("objcache: Retune on a transaction that has ended")
	}
	if _, ok := t.staged[k]; ok {
		return zero, false
	}
	old, ok := t.c.entries[k]
	if !ok || old.fp.Same(fp, equal) {
		return zero, false
	}
	others := old.fp
	others.Value = fp.Value
	if !others.Same(fp, equal) {
		return zero, false
	}
	apply, ok := retune(old.v)
	if !ok {
		return zero, false
	}
	if apply != nil {
		t.applies = append(t.applies, apply)
	}
	if t.staged == nil {
		t.staged = map[Key]*entry[V]{}
	}
	t.order = append(t.order, k)
	t.staged[k] = &entry[V]{fp: fp, v: old.v, closers: old.closers, kept: true}
	return old.v, true
}

// Retune is Txn.Retune in a transaction of its own, committed at once: it reports whether the
// object cached under k was kept for fp, given fp's Value in place.
func (c *Cache[V]) Retune(k Key, fp Fingerprint, equal func(a, b any) bool, retune func(v V) (apply func(), ok bool)) bool {
	t := c.Begin()
	_, ok := t.Retune(k, fp, equal, retune)
	t.Commit()
	return ok
}

// Commit publishes what t staged: each staged object takes its key's place in the cache, and
// the objects it replaces are retired, as Cache.Get does; then the objects Retune kept are
// given their new settings. t ends. An apply that panics does not stop the others: Commit
// runs them all, then panics with the first one's value, the commit done whole.
func (t *Txn[V]) Commit() {
	t.end()
	c := t.c
	for _, k := range t.order {
		st := t.staged[k]
		if old, ok := c.entries[k]; ok && !st.kept {
			c.retired = append(c.retired, old.closers...)
		}
		if c.entries == nil {
			c.entries = map[Key]*entry[V]{}
		}
		c.entries[k] = st
		delete(c.pruned, k)
	}
	c.retired = append(c.retired, t.dropped...)
	applies := t.applies
	t.staged, t.order, t.dropped, t.closers, t.applies = nil, nil, nil, nil, nil
	runall.Each(applies)
}

// Rollback drops what t staged: the cache stays as it was before Begin, and the closers of the
// objects t built run at once, in the order they were registered. It returns their errors
// joined. t ends.
func (t *Txn[V]) Rollback() error {
	t.end()
	var errs []error
	for _, f := range t.closers {
		errs = append(errs, f())
	}
	t.staged, t.order, t.dropped, t.closers, t.applies = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}

func (t *Txn[V]) end() {
	if t.done {
		panic("objcache: a transaction ended twice")
	}
	t.done = true
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

// Fingerprint returns the fingerprint the object cached under k was built from, if one is.
func (c *Cache[V]) Fingerprint(k Key) (Fingerprint, bool) {
	e, ok := c.entries[k]
	if !ok {
		return Fingerprint{}, false
	}
	return e.fp, true
}

// Lookup returns the object cached under k, if one is.
func (c *Cache[V]) Lookup(k Key) (V, bool) {
	e, ok := c.entries[k]
	if !ok {
		var zero V
		return zero, false
	}
	return e.v, true
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
