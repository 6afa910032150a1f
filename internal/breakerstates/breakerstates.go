// Package breakerstates keeps the last state each breaker reported, for the observers that
// name it on what a call leaves behind (zapobs' breaker field, otelobs' bulwark.breaker.state):
// one store, one order in which a call's breaker is found, one rule for a retired breaker and
// one bound, written once for both.
//
// A Store learns states from BreakerStateChanged events, and a breaker's first state from the
// BreakerPublished it sends when it is put in service (by a suite, a breaker.Registry or
// breaker.New; unless the Store has a
// later state of that name: a change whose event came first), and forgets a breaker on its
// Retired event, unless the state it keeps is later than that event's Time: then it is a
// replacement's under the same name, whose change came first (see observe.Retired). Events
// that carry the breaker's Instance (a suite's, and its breakers') are told apart by it instead
// of by their Times: a Retired forgets the state of that instance alone, whatever the Times,
// and the Store drops the later events of the retired instance (of calls that were in flight
// through it, and its BreakerPublished should it come after the Retired), as long as it keeps
// the name (see MaxBreakers), until another instance of the name is retired. It keeps
// at most MaxBreakers breakers and none whose service or method name is longer than
// observe.MaxKeptName: a breaker past those has no state kept, and its calls find none (or the
// service's, for a method-scoped breaker).
package breakerstates

import (
	"strings"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
)

// MaxBreakers is the most breakers a Store keeps the state of.
const MaxBreakers = 4096

// Seen is a breaker's state as its last BreakerStateChanged event said, and that event's Time.
type Seen struct {
	State string
	At    time.Time
}

// Store holds the last state of each breaker. The zero value is an empty Store ready to use;
// a Store must not be copied after first use. It is safe for concurrent use.
type Store struct {
	mu sync.RWMutex
	m  map[key]entry // Guarded by mu.
	// gone counts the entries of m that keep no state, only the instance retired (see entry).
	// Guarded by mu.
	gone int
}

// entry is what a Store keeps of a name: the last state seen (State empty: none, the entry
// only remembering a retired instance), the Instance of the event that said it (0: none
// said), and the Instance last retired under the name (0: none), whose events are dropped.
type entry struct {
	seen              Seen
	instance, retired uint32
}

// key names a breaker: its service, and its method for a method-scoped breaker (empty for a
// breaker of the whole service). The breaker of a service's overflow chain, whose events name
// the method "/<service>/*", has overflow set and no method, so that a call's lookup finds it
// without building that name.
type key struct {
	service, method string
	overflow        bool
}

// keyOf returns the key of the breaker of service and method.
func keyOf(service, method string) key {
	if len(method) == len(service)+3 && method[0] == '/' && method[1:1+len(service)] == service &&
		method[1+len(service):] == "/*" {
		return key{service: service, overflow: true}
	}
	return key{service: service, method: method}
}

// Observe keeps what e says of a breaker: the state a BreakerStateChanged or a
// BreakerPublished reports, or, for a breaker's Retired, that the breaker is gone. Other
// events, and a change or publication with no state (To empty), are ignored.
func (s *Store) Observe(e *observe.Event) {
	switch {
	case e.Kind == observe.BreakerStateChanged && e.To != "":
		s.changed(e.Service, e.Method, Seen{e.To, e.Time}, e.Instance, false)
	case e.Kind == observe.BreakerPublished && e.To != "":
		s.changed(e.Service, e.Method, Seen{e.To, e.Time}, e.Instance, true)
	case e.Kind == observe.Retired && e.Policy == observe.PolicyBreaker:
		s.retired(e.Service, e.Method, e.Time, e.Instance)
	}
}

// Kept is what an observer keeps of a breaker's name: the last state an event said (State
// empty: none, only a retired instance remembered), when (At) and by which instance (0: an
// event without one), and the instance last retired under the name (0: none).
type Kept struct {
	State             string
	At                time.Time
	Instance, Retired uint32
}

// Replaces reports whether a state said at at by an event of instance (0: unknown; published:
// a suite's BreakerPublished) replaces k: not for an event of the instance retired under the
// name (of a call that was in flight through it, or its publication come after its Retired);
// and for a publication, not over a state the same instance said, nor, without an instance,
// over a later state (a change whose event came before the BreakerPublished, which read the
// state before it). It is the rule of every observer that keeps breakers' states from events:
// the Store's, and promobs' series of a breaker no source reads.
func Replaces(k Kept, instance uint32, at time.Time, published bool) bool {
	kept := k.State != ""
	switch {
	case instance != 0 && instance == k.Retired:
		return false
	case published && kept && instance != 0 && instance == k.Instance:
		return false
	case published && kept && instance == 0 && k.At.After(at):
		return false
	}
	return true
}

// changed keeps seen, said by an event of instance (0: unknown), as the state of the breaker
// of service and method, within the bounds; not for an instance retired under the name; and
// for a publication (published), not over a state of the same instance, nor, without an
// instance, over a later state: the state of a change whose event came before the
// BreakerPublished, which read the state before it.
func (s *Store) changed(service, method string, seen Seen, instance uint32, published bool) {
	if len(service) > observe.MaxKeptName || len(method) > observe.MaxKeptName {
		return
	}
	k := keyOf(service, method)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		if Replaces(Kept{State: v.seen.State, At: v.seen.At, Instance: v.instance, Retired: v.retired}, instance, seen.At, published) {
			if v.seen.State == "" {
				s.gone--
			}
			s.m[k] = entry{seen: seen, instance: instance, retired: v.retired}
		}
		return
	}
	if s.m == nil {
		s.m = map[key]entry{}
	}
	if len(s.m) >= MaxBreakers && s.gone > 0 {
		// Room taken by a retired instance's name: its late events may come back.
		for k, v := range s.m {
			if v.seen.State == "" {
				delete(s.m, k)
				s.gone--
				break
			}
		}
	}
	if len(s.m) < MaxBreakers {
		// Copies: a name cut from a larger string (a call's :path) would keep all of it.
		k.service, k.method = strings.Clone(k.service), strings.Clone(k.method)
		s.m[k] = entry{seen: seen, instance: instance}
	}
}

// retired forgets the breaker of service and method retired at at: with its instance (not 0),
// the state that instance said alone, and the name then keeps the instance to drop its later
// events, also when it kept nothing of the name yet (the instance's BreakerPublished, sent
// outside the suite's lock, may come after its Retired), within the bounds; without, the state
// kept unless it is later than at.
func (s *Store) retired(service, method string, at time.Time, instance uint32) {
	if len(service) > observe.MaxKeptName || len(method) > observe.MaxKeptName {
		return
	}
	k := keyOf(service, method)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	switch {
	case !ok && instance != 0 && len(s.m) < MaxBreakers:
		if s.m == nil {
			s.m = map[key]entry{}
		}
		k.service, k.method = strings.Clone(k.service), strings.Clone(k.method)
		s.m[k] = entry{retired: instance}
		s.gone++
	case !ok:
	case instance != 0:
		v.retired = instance
		if v.instance == instance && v.seen.State != "" {
			v.seen, v.instance = Seen{}, 0
			s.gone++
		}
		s.m[k] = v
	case !v.seen.At.After(at):
		if v.seen.State == "" {
			s.gone--
		}
		delete(s.m, k)
	}
}

// Lookup returns the state kept of the breaker of service and method (empty for a breaker of
// the whole service), and whether one is kept. It allocates nothing.
func (s *Store) Lookup(service, method string) (Seen, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[keyOf(service, method)]
	if !ok || v.seen.State == "" {
		return Seen{}, false
	}
	return v.seen, true
}

// State returns the last state of the breaker that guards a call of method of service, and
// false when none is kept: the method's own (a method-scoped breaker), else the method-scoped
// breaker of the service's overflow chain ("/<service>/*", which serves the names past the
// suite's bound and whose events name that chain, not the call's method; "/*/*", of the service
// "*", for a service past it), else the service's. An empty method has only the service's. It
// allocates nothing.
func (s *Store) State(service, method string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if method != "" {
		if v := s.m[keyOf(service, method)]; v.seen.State != "" {
			return v.seen.State, true
		}
		if v := s.m[key{service: service, overflow: true}]; v.seen.State != "" {
			return v.seen.State, true
		}
	}
	v := s.m[key{service: service}]
	return v.seen.State, v.seen.State != ""
}

// Len returns how many breakers the Store keeps the state of (not counting the names that
// keep only a retired instance).
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m) - s.gone
}
