package breaker

import (
	"github.com/bulwarkrpc/bulwark/observe"
)

var (
	_ observe.LevelSource = (*Breaker)(nil)
	_ observe.LevelSource = (*Registry)(nil)
)

// Levels implements observe.LevelSource: it yields one observe.LevelBreakerState reading, the
// breaker's state now (State, so an open breaker whose recovery timeout has passed reads, and
// turns, half-open). Service and Method say which breaker it is, as promobs labels it: a
// breaker named by a service reads Service (WithService, else the name) and no Method; a
// method-scoped one, or any breaker named by a full method "/pkg.Service/Method", reads that
// method and its service. It allocates nothing.
func (b *Breaker) Levels(yield func(observe.Level) bool) {
	yield(b.level())
}

func (b *Breaker) level() observe.Level {
	return observe.Level{
		Kind:    observe.LevelBreakerState,
		Policy:  observe.PolicyBreaker,
		Service: b.service,
		Method:  b.method,
		State:   b.State().String(),
	}
}

// Levels implements observe.LevelSource: it yields the state of every breaker the registry
// holds at the time of the call (see Breaker.Levels), in no particular order, and stops when
// yield returns false. A breaker that Get replaces or Delete forgets is no longer read. It takes
// no lock of the registry's, which Get waits for, and none a call through a closed breaker
// waits for; an open or half-open breaker is read under its own mutex, as State reads it (so
// that a due open → half-open change is made), which that breaker's calls take too, each for
// as long. It allocates nothing per breaker.
func (r *Registry) Levels(yield func(observe.Level) bool) {
	r.entries.Range(func(_, v any) bool {
		return yield(v.(*Breaker).level())
	})
}
