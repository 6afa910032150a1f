package breaker

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/internal/runall"
)

// Registry holds breakers by name, so that every connection that names the same service (or
// method) shares one breaker and its state. A Registry is safe for concurrent use; its zero
// value is empty and ready, its breakers on the clock their options name (NewRegistry can give
// them the registry's).
//
// # Suites sharing a registry
//
// A name stands for one breaker. Each suite given the registry (interceptors.WithBreakerRegistry)
// is a User of it, which holds the breaker of every name its configuration in force uses, from
// the build that takes it until the suite stops using the name (a reload without it) or closes.
// A suite's build that asks for a name with the settings of the breaker the registry holds gets
// that breaker, with its state, unless the suite changed its own settings of the name since
// its build before (a reload that changed the breaker's values or its classifier, or turned
// the section off and on again): such a build starts afresh, with a new, closed breaker in
// place of the registry's, even of the settings it asks for, unless another user holds the
// registry's, which it then shares. One that asks for other settings replaces the breaker (a
// new, closed one, put in the registry when the suite's reload commits) only when no other
// user holds it; while another user does (or another user's build of a new breaker of that
// name, with other settings, is under way), the build fails with an error wrapping
// ErrSharedConflict that names the breaker, the first setting that differs and the value the
// other users' breaker has, and the reload changes nothing: change the settings in every suite
// that shares the name, or give the suites different registries. So the breaker a suite's
// calls go through is the one the registry holds, and its Levels, Snapshot and the other
// suites see its state, unless Get or Delete replaced or forgot it from outside while the
// suite held it: then every chain of the suite that names it, those its first calls build
// since included, still calls through it (one breaker per name in a suite), until the suite's
// next reload, which takes the registry's breaker (or a new one of its settings in place of
// one of others) for them all and lets the old one go (for a name that only chains built on a
// first call use, which a reload does not build, the first such call after it does). Holding is by instance: a suite that
// still calls through a breaker Get or Delete replaced or forgot does not hold the one the
// registry holds now, and refuses no other suite's settings for it. (A breaker's settings are
// not retuned in place: its window and counts are sized by them.) The classifier is not one of
// the settings: a suite whose classifier differs from the one the breaker was made with shares
// it, and judges its own calls' outcomes by its own classifier. The suites check
// and publish their builds one at a time, under the registry's build lock (User.LockBuilds).
//
// # Events
//
// A breaker Get makes (and so the registry interceptors, UnaryClientInterceptor and
// StreamClientInterceptor, at a name's first call) sends its observe.BreakerPublished to its
// observer (WithObserver; see Breaker.Publish) before the registry holds it, so before it
// admits a call. A breaker the registry holds that Get replaces (asked for with other
// settings), that a suite's build replaces (the suite's breaker of the name, with other
// settings, put in its place when the build commits) or that Delete forgets sends its
// observe.Retired to its own observer (its Instance; Time, its clock's now, or its last state
// change when that is later), before its replacement's BreakerPublished, so that an observer
// that keeps breakers' states from events drops its state: once, whoever made it, unless a
// suite holds it (see User), which still calls through it: then the last suite that holds it
// retires it itself (Breaker.Retire), to the breaker's own observer (its maker's, whichever
// suite holds it last), once it no longer does (a reload without it, or Close; see
// User.LetGo). So a breaker of the registry interceptors is retired when a suite's
// configuration of other settings for the name replaces it, and one a suite made, which that
// suite let go while the registry held it, when Get, Delete or another suite's build replaces
// it. Get and Delete send these Retired events with the registry's lock held: an observer must
// not call Get or Delete of the same registry from Observe, nor make a call through its
// interceptors, which would wait for that lock. Those of a suite's build are sent by that
// suite once the build committed and it let its locks go (User.RetireReplaced), before it
// publishes the breakers the build made: its observer may call back into it. The breakers a
// suite's build makes (interceptors.WithBreakerRegistry) are published by that suite.
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
	// users holds, by name, the users whose builds in force hold a breaker of that name (see
	// User), each with the breaker it holds: the registry's, or one Get replaced (or Delete
	// forgot) since, which that user still calls through (and will retire). Users of one name
	// may hold different breakers: one took the breaker Get put in place of the one another
	// still holds. Every check asks who holds a given instance (heldLocked): a user holding
	// a breaker the registry no longer has neither shares the registry's (no conflict) nor
	// keeps it from being retired.
	users map[string]map[*User]*Breaker // Guarded by mu.
	// retiring holds, by user, the breakers a put of a build of that user replaced and no user
	// held, whose Retired the user's suite sends once it let its locks go (User.RetireReplaced).
	retiring map[*User][]*Breaker // Guarded by mu.
	// builds is the registry's build lock (see User.LockBuilds).
	builds buildLock
}

// buildLock is held by one user at a time, as many times over as that user takes it (see
// User.LockBuilds).
type buildLock struct {
	mu    sync.Mutex
	freed sync.Cond // L is mu, set at the first wait; broadcast when owner lets the lock go.
	owner *User     // Guarded by mu: the user holding the lock, nil when free.
	holds int       // Guarded by mu: how many times owner holds it.
}

// User is one holder of a registry's breakers: a suite given the registry (see Registry). A
// build of the user that asks for a name with other settings than the breaker the registry
// holds is refused while another user holds that breaker. A User is safe for concurrent use.
type User struct {
	r *Registry
}

// User returns a new user of r's breakers, holding none.
func (r *Registry) User() *User { return &User{r: r} }

// Release says that u no longer holds the breaker named name (its configuration no longer
// uses the name): another user may then change its settings.
func (u *User) Release(name string) {
	r := u.r
	r.mu.Lock()
	r.releaseLocked(name, u)
	r.mu.Unlock()
}

// releaseLocked is Release under r.mu.
func (r *Registry) releaseLocked(name string, u *User) {
	if us := r.users[name]; us != nil {
		delete(us, u)
		if len(us) == 0 {
			delete(r.users, name)
		}
	}
}

// LetGo says that u's suite no longer calls through b, its breaker named name (a reload
// without it, or that replaced it, or Close), and reports whether that suite is to retire b
// (send its observe.Retired): when the registry no longer holds b and no other user holds it.
// Else the registry retires b when it replaces or forgets it (see Registry), or the last user
// that holds it does. With release, u's hold of name is let go too (Release), in the same step
// as the answer, so that a Get or Delete meanwhile does not retire b as well, nor leave it
// unretired.
func (u *User) LetGo(name string, b *Breaker, release bool) bool {
	r := u.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if release {
		r.releaseLocked(name, u)
	}
	if v, ok := r.entries.Load(name); ok && v.(*Breaker) == b {
		return false
	}
	return !r.heldLocked(name, b, u)
}

// RetireReplaced sends the observe.Retired of the breakers that puts of u's builds put
// others in place of, and that no suite held (see Registry): its suite calls it once a build
// committed and it let its lock and the registry's build lock go, before it publishes the
// breakers the build made, so that an observer may call back into the suite, or into another
// sharing the registry, from Observe. Should an observer panic on one of them (a bug of its),
// the others are sent all the same, and the first panic then goes on, to the caller; one more
// on a later breaker's is recovered and dropped, so that it neither hides the first nor stops
// the rest.
func (u *User) RetireReplaced() {
	r := u.r
	r.mu.Lock()
	olds := r.retiring[u]
	delete(r.retiring, u)
	r.mu.Unlock()
	runall.For(olds, func(old *Breaker) { old.retire(time.Time{}, true) })
}

// heldLocked reports whether a user other than except holds b, the breaker named name. r.mu
// must be held.
func (r *Registry) heldLocked(name string, b *Breaker, except *User) bool {
	for v, held := range r.users[name] {
		if v != except && held == b {
			return true
		}
	}
	return false
}

// Close releases every breaker u holds (a suite's Close).
func (u *User) Close() {
	r := u.r
	r.mu.Lock()
	for name := range r.users {
		r.releaseLocked(name, u)
	}
	r.mu.Unlock()
}

// LockBuilds takes the registry's build lock for u, waiting while another user holds it. A
// suite given the registry holds it from the checks of a reload against the registry's
// breakers until the reload is published, and around the build of a chain on a method's first
// call: what one suite checked cannot change under it before it publishes, from another
// suite's reload or first call (each under its own suite's lock alone). The lock is held by
// the user, not by a goroutine: u's holds nest, also from other goroutines (a first call of a
// suite that comes during that suite's reload, which the suite's own lock orders), and it is
// free once u let each of them go (UnlockBuilds). So a user must not wait, while holding it,
// for another user's build: code of the program that runs in a build (a section's Check or
// Build, a fleet-wide limiter's factory) must not reload, or make the first call of a method
// through, another suite sharing the registry.
func (u *User) LockBuilds() {
	b := &u.r.builds
	b.mu.Lock()
	for b.owner != nil && b.owner != u {
		if b.freed.L == nil {
			b.freed.L = &b.mu
		}
		b.freed.Wait()
	}
	b.owner = u
	b.holds++
	b.mu.Unlock()
}

// TryLockBuilds is LockBuilds without the wait: it takes the lock for u and reports true when
// no other user holds it, else reports false.
func (u *User) TryLockBuilds() bool {
	b := &u.r.builds
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.owner != nil && b.owner != u {
		return false
	}
	b.owner = u
	b.holds++
	return true
}

// UnlockBuilds lets go one of u's holds of the registry's build lock (see LockBuilds). It
// panics when u holds none: an unlock without its lock is a bug of the caller.
func (u *User) UnlockBuilds() {
	b := &u.r.builds
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.owner != u {
		panic("breaker: UnlockBuilds of a user that does not hold the registry's build lock")
	}
	if b.holds--; b.holds == 0 {
		b.owner = nil
		b.freed.Broadcast()
	}
}

// hold records that u holds b, the breaker named name, which its build took (at the commit of
// the build). A nil u holds nothing.
func (r *Registry) hold(name string, b *Breaker, u *User) {
	if u == nil {
		return
	}
	r.mu.Lock()
	if r.users == nil {
		r.users = map[string]map[*User]*Breaker{}
	}
	us := r.users[name]
	if us == nil {
		us = map[*User]*Breaker{}
		r.users[name] = us
	}
	us[u] = b
	r.mu.Unlock()
}

// replacedLocked ends the registry's keeping of old, its breaker named name until Get, put or
// Delete replaced or forgot it: old sends its observe.Retired (see Registry) unless a user
// holds it, whose suite still calls through it and retires it once it no longer does and no
// other user holds it (see User.LetGo). So a breaker is retired once, by the registry or by
// the last suite that holds it, whoever made it and whoever replaced it. r.mu must be held.
func (r *Registry) replacedLocked(name string, old *Breaker) {
	if r.heldLocked(name, old, nil) {
		return
	}
	old.retire(time.Time{}, true)
}

// claim is a breaker take made that the registry does not hold yet, and how many takes got it
// whose builds have not ended (put or drop).
type claim struct {
	b     *Breaker
	takes int
	// by counts the takes by user (nil: takes by no user), so that a build of another user
	// that asks for the name with other settings meanwhile is refused, as it would be once
	// this one committed.
	by map[*User]int
}

// byOthers reports whether a user other than u took c.
func (c *claim) byOthers(u *User) bool {
	for v := range c.by {
		if v != u && v != nil {
			return true
		}
	}
	return false
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
	if err := buildOptions(opts).CheckTypedNil(); err != nil {
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
	var replaced *Breaker
	if v, ok := r.entries.Load(name); ok {
		if b := v.(*Breaker); b.cfg == cfg {
			return b
		}
		replaced = v.(*Breaker)
	}
	b := newBreaker(name, cfg, r.options(opts))
	// Under r.mu, before the registry holds b: the replaced breaker's Retired comes before
	// b's BreakerPublished, and that before any call b admits.
	if replaced != nil {
		r.replacedLocked(name, replaced)
	}
	b.Publish()
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

// take is Get without the registry's change, for a build of user u: it returns the registry's
// breaker named name when it holds one of cfg and fresh is false (or another user holds it),
// else a breaker the registry holds only once put puts it there (made true): the one an
// earlier take of name and cfg made, when its build has not ended (see Registry.pending), or a
// new one made with opts. When the registry holds a breaker of name with other settings than
// cfg that another user holds, it is an error wrapping ErrSharedConflict. The caller ends its
// build with put (committed) or drop (rejected), and records its hold at commit (hold).
func (r *Registry) take(name string, cfg Config, fresh bool, u *User, opts []Option) (b *Breaker, made bool, err error) {
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
	if v, ok := r.entries.Load(name); ok {
		held := v.(*Breaker)
		// Another user holds this very breaker: one that holds a breaker of the name that
		// Get or Delete replaced or forgot since does not share this one.
		shared := u != nil && r.heldLocked(name, held, u)
		if held.cfg == cfg && (!fresh || shared) {
			// put by another build since the look above; or held by another user, which a
			// build of this one (its classifier changed) must not take from it
			return held, false, nil
		}
		if shared {
			return nil, false, conflict(name, held.cfg, cfg)
		}
	}
	if c := r.pending[name]; c != nil {
		if c.b.cfg == cfg {
			c.takes++
			c.by[u]++
			return c.b, true, nil
		}
		if u != nil && c.byOthers(u) {
			return nil, false, conflict(name, c.b.cfg, cfg)
		}
	}
	b = newBreaker(name, cfg, r.options(opts))
	b.maker = u
	if r.pending == nil {
		r.pending = map[string]*claim{}
	}
	r.pending[name] = &claim{b: b, takes: 1, by: map[*User]int{u: 1}}
	return b, true, nil
}

// conflictOf is the error take would return to a build of user u asking for the breaker named
// name with cfg, when u holds a breaker of that name and another user holds the registry's,
// with other settings than cfg: u's build would change a breaker another user calls through.
// nil otherwise, and when u is nil. Users that still hold a breaker of the name that Get or
// Delete replaced or forgot since do not hold the registry's: the breaker they call through
// is not the one u's build would replace. A name u holds no breaker of (its own build of it
// failed, or it let it go) is for take to judge, as is another user's build under way
// (pending), which may still be rolled back.
func (r *Registry) conflictOf(name string, cfg Config, u *User) error {
	if u == nil {
		return nil
	}
	cfg = Normalize(cfg)
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.entries.Load(name)
	if !ok {
		return nil
	}
	if _, mine := r.users[name][u]; !mine {
		return nil
	}
	if held := v.(*Breaker); held.cfg != cfg && r.heldLocked(name, held, u) {
		return conflict(name, held.cfg, cfg)
	}
	return nil
}

// put makes b, which take made, the breaker named name at the commit of a build of user u, in
// place of the one the registry holds, if any, which is retired unless a user holds it (see
// replacedLocked): not here, under the locks of u's suite, but by that suite once it let them
// go (User.RetireReplaced), before b's BreakerPublished; at once for a nil u, which has no
// suite. A later take of name gets b from the registry (or, fresh, a new one), not as pending.
func (r *Registry) put(name string, b *Breaker, u *User) {
	r.mu.Lock()
	if v, ok := r.entries.Load(name); ok && v.(*Breaker) != b {
		if old := v.(*Breaker); u == nil {
			r.replacedLocked(name, old)
		} else if !r.heldLocked(name, old, nil) {
			if r.retiring == nil {
				r.retiring = map[*User][]*Breaker{}
			}
			r.retiring[u] = append(r.retiring[u], old)
		}
	}
	r.storeLocked(name, b)
	if c := r.pending[name]; c != nil && c.b == b {
		delete(r.pending, name)
	}
	r.mu.Unlock()
}

// drop ends a build of user u that took b, made by take, and will not put it: the last such
// build of a breaker no build put forgets it.
func (r *Registry) drop(name string, b *Breaker, u *User) {
	r.mu.Lock()
	if c := r.pending[name]; c != nil && c.b == b {
		if c.by[u]--; c.by[u] <= 0 {
			delete(c.by, u)
		}
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
// their next call resolves a new one; a suite holding it, until its next reload (see
// Registry). A breaker no suite holds is retired: its observer gets
// its observe.Retired (see Registry).
func (r *Registry) Delete(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, loaded := r.entries.LoadAndDelete(name); loaded {
		r.n.Add(-1)
		r.replacedLocked(name, v.(*Breaker))
	}
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

// conflict is the error of a build that asks for the breaker named name with cfg while another
// user holds it with held (both normalized, and different): it names the first field that
// differs, with the value asked for and the one in force.
func conflict(name string, held, cfg Config) error {
	hv, cv := reflect.ValueOf(held), reflect.ValueOf(cfg)
	field, asked, has := "settings", any(cfg), any(held)
	for i := range hv.NumField() {
		if !hv.Field(i).Equal(cv.Field(i)) {
			field, asked, has = hv.Type().Field(i).Tag.Get("yaml"), cv.Field(i).Interface(), hv.Field(i).Interface()
			break
		}
	}
	fe := fielderr.New(field, asked, fmt.Sprintf("differs from the %s of breaker %q, which another suite sharing the registry holds "+
		"(a name stands for one breaker: give it the same settings in every suite that uses it, or give the suites different registries)",
		fielderr.Format(has), name))
	return fmt.Errorf("%w: %w", fe, ErrSharedConflict)
}
