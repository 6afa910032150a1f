package breaker

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
)

// Registry holds breakers by name, so that every connection that names the same service (or
// method) shares one breaker and its state. A Registry is safe for concurrent use; its zero
// value is empty and ready, its breakers on the clock their options name (NewRegistry can give
// them the registry's).
type Registry struct {
	// clock, when not nil, is the clock of every breaker the registry makes, whatever the
	// options of Get (or of a suite's build) name. Set only by NewRegistry.
	clock   clock.Clock
	mu      sync.Mutex
	entries sync.Map     // name → *Breaker; written only under mu.
	n       atomic.Int64 // the names entries holds; written only under mu.
	// pending holds, by name, the breaker take made last that neither put nor drop has
	// settled yet, with the takes that got it: a take of the same name and configuration
	// meanwhile gets it too, so that suites sharing the registry that build one breaker at
	// once (each reload under its own lock) use the one the registry then holds.
	pending map[string]*claim // Guarded by mu.
}

// claim is a breaker take made that the registry does not hold yet, and how many takes got it
// whose builds have not ended (put or drop).
type claim struct {
	b     *Breaker
	takes int
}

// NewRegistry returns an empty registry. WithClock sets the clock of every breaker it makes,
// whatever clock the options of Get, of the registry interceptors or of a suite (given the
// registry by interceptors.WithBreakerRegistry, whatever its interceptors.WithClock) name: a
// test can so put the breakers alone on a fake clock. Its other options are ignored.
func NewRegistry(opts ...Option) *Registry {
	var c clock.Clock
	for _, opt := range opts {
		if opt.o.Kind == optkit.KindClock {
			c = clock.OrReal(buildOptions([]Option{opt}).Clock)
		}
	}
	return &Registry{clock: c}
}

// options builds the options of a breaker the registry makes: opts, with the registry's clock
// when it has one.
func (r *Registry) options(opts []Option) options {
	o := buildOptions(opts)
	if r.clock != nil {
		o.Clock = r.clock
	}
	return o
}

// DefaultRegistry is the Registry that UnaryClientInterceptor and StreamClientInterceptor use
// unless given WithRegistry.
var DefaultRegistry = new(Registry)

// Get returns the breaker named name. When the registry holds one whose configuration equals
// cfg (defaults filled in on both sides), that breaker is returned with its state, so a
// configuration reload that leaves the breaker settings alone does not reset it. Otherwise a new
// closed breaker is made with opts and replaces the old one. opts take effect only when a
// breaker is made. It returns cfg.Validate's error when cfg is out of range.
//
// A name means one breaker: two live configurations for the same name replace each other's
// breaker on every Get (and so on every call through the registry interceptors), resetting its
// state each time. Give them different names, or different registries.
func (r *Registry) Get(name string, cfg Config, opts ...Option) (*Breaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return r.get(name, Normalize(cfg), opts), nil
}

// get is Get for a valid, normalized cfg. Finding an existing breaker takes no lock and
// allocates nothing.
func (r *Registry) get(name string, cfg Config, opts []Option) *Breaker {
	if v, ok := r.entries.Load(name); ok {
		if b := v.(*Breaker); b.cfg == cfg {
			return b
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.entries.Load(name); ok {
		if b := v.(*Breaker); b.cfg == cfg {
			return b
		}
	}
	b := newBreaker(name, cfg, r.options(opts))
	r.storeLocked(name, b)
	return b
}

// storeLocked makes b the breaker named name, counting a new name. r.mu must be held.
func (r *Registry) storeLocked(name string, b *Breaker) {
	if _, loaded := r.entries.Swap(name, b); !loaded {
		r.n.Add(1)
	}
}

// full reports whether the registry holds cowmap.MaxKeys names or more: the registry
// interceptors then give a name they have no breaker for the breaker of the names not kept
// (see resolver.make).
func (r *Registry) full() bool { return r.n.Load() >= cowmap.MaxKeys }

// take is Get without the registry's change: it returns the registry's breaker named name when
// it holds one of cfg and fresh is false, else a breaker the registry holds only once put puts
// it there (made true): the one an earlier take of name and cfg made, when its build has not
// ended (see Registry.pending), or a new one made with opts. The caller ends its build with
// put (committed) or drop (rejected).
func (r *Registry) take(name string, cfg Config, fresh bool, opts []Option) (b *Breaker, made bool, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, false, err
	}
	cfg = Normalize(cfg)
	if v, ok := r.entries.Load(name); ok && !fresh {
		if b := v.(*Breaker); b.cfg == cfg {
			return b, false, nil
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.entries.Load(name); ok && !fresh {
		if b := v.(*Breaker); b.cfg == cfg {
			return b, false, nil // put by another build since the look above
		}
	}
	if c := r.pending[name]; c != nil && c.b.cfg == cfg {
		c.takes++
		return c.b, true, nil
	}
	b = newBreaker(name, cfg, r.options(opts))
	if r.pending == nil {
		r.pending = map[string]*claim{}
	}
	r.pending[name] = &claim{b: b, takes: 1}
	return b, true, nil
}

// put makes b, which take made, the breaker named name, in place of the one the registry
// holds, if any. A later take of name gets it from the registry (or, fresh, a new one), not
// as pending.
func (r *Registry) put(name string, b *Breaker) {
	r.mu.Lock()
	r.storeLocked(name, b)
	if c := r.pending[name]; c != nil && c.b == b {
		delete(r.pending, name)
	}
	r.mu.Unlock()
}

// drop ends a build that took b, made by take, and will not put it: the last such build of a
// breaker no build put forgets it.
func (r *Registry) drop(name string, b *Breaker) {
	r.mu.Lock()
	if c := r.pending[name]; c != nil && c.b == b {
		if c.takes--; c.takes == 0 {
			delete(r.pending, name)
		}
	}
	r.mu.Unlock()
}

// Lookup returns the breaker named name, if the registry holds one.
func (r *Registry) Lookup(name string) (*Breaker, bool) {
	v, ok := r.entries.Load(name)
	if !ok {
		return nil, false
	}
	return v.(*Breaker), true
}

// Delete forgets the breaker named name. Interceptors still holding it keep using it until
// their next call resolves a new one.
func (r *Registry) Delete(name string) {
	r.mu.Lock()
	if _, loaded := r.entries.LoadAndDelete(name); loaded {
		r.n.Add(-1)
	}
	r.mu.Unlock()
}

// Each calls fn for every breaker, in name order (for metrics and admin pages).
func (r *Registry) Each(fn func(name string, b *Breaker)) {
	var names []string
	byName := map[string]*Breaker{}
	r.entries.Range(func(k, v any) bool {
		names = append(names, k.(string))
		byName[k.(string)] = v.(*Breaker)
		return true
	})
	sort.Strings(names)
	for _, n := range names {
		fn(n, byName[n])
	}
}

// Snapshot returns every breaker's Stats by name.
func (r *Registry) Snapshot() map[string]Stats {
	out := map[string]Stats{}
	r.Each(func(name string, b *Breaker) { out[name] = b.Stats() })
	return out
}
