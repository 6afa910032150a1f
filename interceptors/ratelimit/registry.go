package ratelimit

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/section"
)

// Registry hands out one Local per shared bucket name. It is safe for concurrent use; its zero
// value is empty and ready, its buckets on the real clock.
type Registry struct {
	clock clock.Clock

	mu      sync.Mutex
	buckets map[string]sharedBucket // Guarded by mu: shared name → bucket.
	config  uint64                  // Guarded by mu: the configuration in force (see Reconfigure).
}

// sharedBucket is a shared name's bucket and the last configuration that asked for it.
type sharedBucket struct {
	l      *Local
	config uint64
}

// NewRegistry returns an empty registry. WithClock sets the clock of the buckets it makes.
func NewRegistry(opts ...Option) *Registry {
	return &Registry{clock: buildOptions(opts).Clock, buckets: map[string]sharedBucket{}}
}

// Reconfigure starts a new configuration of the buckets' users (a suite calls it at every
// Reload). A shared name asked for with other settings than its bucket's replaces the bucket
// when nothing asked for the bucket as it is since Reconfigure (the configuration changed its
// rate or burst); asked for with two settings within one configuration, it is still an error.
// Calls in flight keep the bucket they took.
func (r *Registry) Reconfigure() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.config++
	r.mu.Unlock()
}

// Local returns the bucket for cfg: when cfg.Shared is empty, a new bucket of its own; else the
// bucket of that name, made on first use. A shared name already asked for with another rate or
// burst (after defaults) since the last Reconfigure is an error wrapping ErrSharedConflict; asked
// for before it, the bucket is replaced. cfg must be valid.
func (r *Registry) Local(cfg Config) (*Local, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Shared == "" {
		return NewLocal(cfg.Rate, cfg.Burst, WithClock(r.clock)), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l, made, err := r.takeLocked(cfg)
	if made {
		r.setLocked(cfg.Shared, sharedBucket{l, r.config})
	}
	return l, err
}

// setLocked makes b the bucket of the shared name. r.mu must be held.
func (r *Registry) setLocked(name string, b sharedBucket) {
	if r.buckets == nil {
		r.buckets = map[string]sharedBucket{}
	}
	r.buckets[name] = b
}

// stagedBucket is the key under which a suite's stage (section.Stage) keeps a shared bucket
// made for it and not in its registry yet.
type stagedBucket struct {
	r    *Registry
	name string
}

// staged is Local for a build of a suite's reload (st): a bucket made in place of the
// registry's goes into the registry when st commits, and until then the reload's other builds
// that name it get it from st. Without a stage, it is Local.
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
	r.mu.Lock()
	l, made, err := r.takeLocked(cfg)
	config := r.config
	r.mu.Unlock()
	if made {
		st.Store(key, l)
		st.OnCommit(func() {
			r.mu.Lock()
			r.setLocked(cfg.Shared, sharedBucket{l, config})
			r.mu.Unlock()
		})
	}
	return l, err
}

// takeLocked returns the bucket of the valid cfg, which names a shared bucket: the registry's
// when its settings are cfg's (the configuration in force asks for it, see Reconfigure), else
// a new one (made true) that the caller puts in the registry, or an error when the name was
// asked for with other settings in the configuration in force. r.mu must be held.
func (r *Registry) takeLocked(cfg Config) (l *Local, made bool, err error) {
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
	return NewLocal(cfg.Rate, burst, WithClock(r.clock)), true, nil
}

func errConflict(name string, l *Local, rate float64, burst int) error {
	return fmt.Errorf("ratelimit: shared bucket %q has rate %s/s burst %d, asked for rate %s/s burst %d: %w",
		name, fmtRate(l.rate), l.burst, fmtRate(rate), burst, ErrSharedConflict)
}

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
