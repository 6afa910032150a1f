// Package breakerstates keeps the last state each breaker reported, for the observers that
// name it on what a call leaves behind (zapobs' breaker field, otelobs' bulwark.breaker.state):
// one store, one order in which a call's breaker is found, one rule for a retired breaker and
// one bound, written once for both.
//
// A Store learns states from BreakerStateChanged events, and a breaker's first state from the
// BreakerPublished a suite sends when it puts the breaker in service (unless the Store has a
// later state of that name: a change whose event came first), and forgets a breaker on its
// Retired event, unless the state it keeps is later than that event's Time: then it is a
// replacement's under the same name, whose change came first (see observe.Retired). It keeps
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
	m  map[key]Seen // Guarded by mu.
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
		s.changed(e.Service, e.Method, Seen{e.To, e.Time}, false)
	case e.Kind == observe.BreakerPublished && e.To != "":
		s.changed(e.Service, e.Method, Seen{e.To, e.Time}, true)
	case e.Kind == observe.Retired && e.Policy == observe.PolicyBreaker:
		s.retired(e.Service, e.Method, e.Time)
	}
}

// changed keeps seen as the state of the breaker of service and method, within the bounds;
// for a publication (published), unless the state kept is later than seen: the state of a
// change whose event came before the BreakerPublished, which read the state before it.
func (s *Store) changed(service, method string, seen Seen, published bool) {
	if len(service) > observe.MaxKeptName || len(method) > observe.MaxKeptName {
		return
	}
	k := keyOf(service, method)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		if !published || !v.At.After(seen.At) {
			s.m[k] = seen
		}
		return
	}
	if s.m == nil {
		s.m = map[key]Seen{}
	}
	if len(s.m) < MaxBreakers {
		// Copies: a name cut from a larger string (a call's :path) would keep all of it.
		k.service, k.method = strings.Clone(k.service), strings.Clone(k.method)
		s.m[k] = seen
	}
}

// retired forgets the breaker of service and method, unless its state is later than at.
func (s *Store) retired(service, method string, at time.Time) {
	k := keyOf(service, method)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok && !v.At.After(at) {
		delete(s.m, k)
	}
}

// Lookup returns the state kept of the breaker of service and method (empty for a breaker of
// the whole service), and whether one is kept. It allocates nothing.
func (s *Store) Lookup(service, method string) (Seen, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[keyOf(service, method)]
	return v, ok
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
		if v, ok := s.m[keyOf(service, method)]; ok {
			return v.State, true
		}
		if v, ok := s.m[key{service: service, overflow: true}]; ok {
			return v.State, true
		}
	}
	v, ok := s.m[key{service: service}]
	return v.State, ok
}

// Len returns how many breakers the Store keeps the state of.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
