package ratelimit

import (
	"fmt"
	"strconv"
	"sync"
	"weak"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/section"
)

// Registry hands out one Local per shared bucket name and settings. It is safe for concurrent
// use; its zero value is empty and ready, its buckets on the real clock.
//
// A registry has users, each with a configuration of its own (see Reconfigure): the registry
// itself, and each registry that User returns (a suite given a registry by
// interceptors.WithLimiterRegistry is a user of its own). A user whose configuration in force
// asks for a shared name with some settings gets the bucket of that name and settings that any
// user's configuration in force (or a reload being built) asks for, so that users with the same
// settings share one bucket; a new one when none does. Asking for a name with two settings is
// an error only within one user's one configuration: a user that changes a name's settings
// leaves the other users' configurations their bucket until they change them too. A user
// holds, per shared name, the bucket it took last, and the registry holds its users weakly: a
// bucket that no user still referenced holds is forgotten.
type Registry struct {
	clock clock.Clock
	// root is the registry whose buckets a user made by User shares; nil on the registry
	// itself.
	root *Registry

	mu    sync.Mutex               // Of the root: guards the fields below, of the root and of its users.
	users []weak.Pointer[Registry] // Of the root: the users made by User.

	buckets map[string]sharedBucket // Shared name → the bucket this user's configuration asks for.
	config  uint64                  // This user's configuration in force (see Reconfigure).
	// pending holds, by shared name, the buckets made or taken for this user's stage (a
	// reload, or the build of a chain on its method's first call) that its buckets do not hold
	// yet: other users' builds share them.
	pending      map[string]*Local
	pendingStage *section.Stage
}

// sharedBucket is a shared name's bucket and the last configuration of its user that asked
// for it.
type sharedBucket struct {
	l      *Local
	config uint64
}

// NewRegistry returns an empty registry. WithClock sets the clock of the buckets it makes.
func NewRegistry(opts ...Option) *Registry {
	return &Registry{clock: buildOptions(opts).Clock, buckets: map[string]sharedBucket{}}
}

// User returns a new user of r's buckets (a user's User is its registry's): a Registry with a
// configuration of its own (Reconfigure), which shares with r and r's other users the buckets
// of the settings they ask for. The registry holds it weakly: a user no longer referenced is
// gone with the buckets only it asked for.
func (r *Registry) User() *Registry {
	root := r.rootOf()
	u := &Registry{root: root}
	root.mu.Lock()
	live := root.users[:0]
	for _, w := range root.users {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	clear(root.users[len(live):])
	root.users = append(live, weak.Make(u))
	root.mu.Unlock()
	return u
}

func (r *Registry) rootOf() *Registry {
	if r.root != nil {
		return r.root
	}
	return r
}

// Reconfigure starts a new configuration of this user of the buckets (a suite calls it at
// every Reload). A shared name asked for with other settings than this user's bucket's takes
// a bucket of those settings (another user's, or a new one) in place of it when nothing asked
// for the bucket as it is since Reconfigure (the configuration changed its rate or burst);
// asked for with two settings within one configuration, it is still an error. Other users
// keep the bucket they have. Calls in flight keep the bucket they took.
func (r *Registry) Reconfigure() {
	if r == nil {
		return
	}
	root := r.rootOf()
	root.mu.Lock()
	r.config++
	clear(r.pending) // of stages over: committed, or abandoned
	root.mu.Unlock()
}

// Local returns the bucket for cfg: when cfg.Shared is empty, a new bucket of its own; else the
// bucket of that name and settings (after defaults), made on first use. A shared name this
// user already asked for with another rate or burst since its last Reconfigure is an error
// wrapping ErrSharedConflict; asked for before it, the user's bucket is replaced. cfg must be
// valid.
func (r *Registry) Local(cfg Config) (*Local, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root := r.rootOf()
	if cfg.Shared == "" {
		return NewLocal(cfg.Rate, cfg.Burst, WithClock(root.clock)), nil
	}
	root.mu.Lock()
	defer root.mu.Unlock()
	l, taken, err := r.takeLocked(cfg)
	if taken {
		r.setLocked(cfg.Shared, sharedBucket{l, r.config})
	}
	return l, err
}

// setLocked makes b the bucket of the shared name for this user. The root's mu must be held.
func (r *Registry) setLocked(name string, b sharedBucket) {
	if r.buckets == nil {
		r.buckets = map[string]sharedBucket{}
	}
	r.buckets[name] = b
}

// stagedBucket is the key under which a suite's stage (section.Stage) keeps a shared bucket
// taken for it and not in its registry yet.
type stagedBucket struct {
	r    *Registry
	name string
}

// staged is Local for a build of a suite's reload (st): a bucket taken in place of the user's
// goes into its buckets when st commits, and until then the reload's other builds that name
// it get it from st (and other users' builds may share it). Without a stage, it is Local.
func (r *Registry) staged(cfg Config, st *section.Stage) (*Local, error) {
	if st == nil || cfg.Shared == "" {
		return r.Local(cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key := stagedBucket{r, cfg.Shared}
	if v, ok := st.Load(key); ok {
		l := v.(*Local)
		if burst := defaultBurst(cfg.Rate, cfg.Burst); l.rate != cfg.Rate || l.burst != burst {
			return nil, errConflict(cfg.Shared, l, cfg.Rate, burst)
		}
		return l, nil
	}
	root := r.rootOf()
	root.mu.Lock()
	l, taken, err := r.takeLocked(cfg)
	config := r.config
	if taken {
		if r.pendingStage != st {
			clear(r.pending)
			r.pendingStage = st
		}
		if r.pending == nil {
			r.pending = map[string]*Local{}
		}
		r.pending[cfg.Shared] = l
	}
	root.mu.Unlock()
	if taken {
		st.Store(key, l)
		st.OnCommit(func() {
			root.mu.Lock()
			r.setLocked(cfg.Shared, sharedBucket{l, config})
			if r.pending[cfg.Shared] == l {
				delete(r.pending, cfg.Shared)
			}
			root.mu.Unlock()
		})
	}
	return l, err
}

// unstage drops l, taken for stage st under the shared name, from this user's pending buckets
// when it is still pending for st: st rolled back, so that it neither stays until the user's
// next stage nor is offered to other users' builds (findLocked). A committed stage's bucket is
// not pending any more: unstage then does nothing.
func (r *Registry) unstage(name string, l *Local, st *section.Stage) {
	root := r.rootOf()
	root.mu.Lock()
	if r.pendingStage == st && r.pending[name] == l {
		delete(r.pending, name)
	}
	root.mu.Unlock()
}

// takeLocked returns this user's bucket for the valid cfg, which names a shared bucket: its
// own when its settings are cfg's (its configuration in force asks for it, see Reconfigure),
// else one of cfg's settings (taken true) that the caller makes its own: another user's, or a
// new one. It is an error when the user's configuration in force asked for the name with
// other settings. The root's mu must be held.
func (r *Registry) takeLocked(cfg Config) (l *Local, taken bool, err error) {
	burst := defaultBurst(cfg.Rate, cfg.Burst)
	if b, ok := r.buckets[cfg.Shared]; ok {
		l := b.l
		switch {
		case l.rate == cfg.Rate && l.burst == burst:
			r.setLocked(cfg.Shared, sharedBucket{l, r.config})
			return l, false, nil
		case b.config == r.config:
			return nil, false, errConflict(cfg.Shared, l, cfg.Rate, burst)
		}
	}
	root := r.rootOf()
	if l := root.findLocked(cfg.Shared, cfg.Rate, burst); l != nil {
		return l, true, nil
	}
	return NewLocal(cfg.Rate, burst, WithClock(root.clock)), true, nil
}

// findLocked returns the bucket of the shared name and settings that the root or one of its
// users holds or has pending, nil when none does. r is the root; its mu must be held.
func (r *Registry) findLocked(name string, rate float64, burst int) *Local {
	match := func(l *Local) bool { return l != nil && l.rate == rate && l.burst == burst }
	in := func(u *Registry) *Local {
		if b := u.buckets[name]; match(b.l) {
			return b.l
		}
		if l := u.pending[name]; match(l) {
			return l
		}
		return nil
	}
	if l := in(r); l != nil {
		return l
	}
	for _, w := range r.users {
		if u := w.Value(); u != nil {
			if l := in(u); l != nil {
				return l
			}
		}
	}
	return nil
}

func errConflict(name string, l *Local, rate float64, burst int) error {
	return fmt.Errorf("ratelimit: shared bucket %q has rate %s/s burst %d, asked for rate %s/s burst %d: %w",
		name, fmtRate(l.rate), l.burst, fmtRate(rate), burst, ErrSharedConflict)
}

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
