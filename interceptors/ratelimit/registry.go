package ratelimit

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/bulwarkrpc/bulwark/clock"
)

// Registry hands out one Local per shared bucket name. It is safe for concurrent use.
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
	burst := defaultBurst(cfg.Rate, cfg.Burst)
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.buckets[cfg.Shared]; ok {
		l := b.l
		switch {
		case l.rate == cfg.Rate && l.burst == burst:
			r.buckets[cfg.Shared] = sharedBucket{l, r.config}
			return l, nil
		case b.config == r.config:
			return nil, fmt.Errorf("ratelimit: shared bucket %q has rate %s/s burst %d, asked for rate %s/s burst %d: %w",
				cfg.Shared, fmtRate(l.rate), l.burst, fmtRate(cfg.Rate), burst, ErrSharedConflict)
		}
	}
	l := NewLocal(cfg.Rate, burst, WithClock(r.clock))
	r.buckets[cfg.Shared] = sharedBucket{l, r.config}
	return l, nil
}

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
