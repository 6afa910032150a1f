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
	buckets map[string]*Local // Guarded by mu: shared name → bucket.
}

// NewRegistry returns an empty registry. WithClock sets the clock of the buckets it makes.
func NewRegistry(opts ...Option) *Registry {
	return &Registry{clock: buildOptions(opts).Clock, buckets: map[string]*Local{}}
}

// Local returns the bucket for cfg: when cfg.Shared is empty, a new bucket of its own; else the
// bucket of that name, made on first use. A shared name already made with another rate or
// burst (after defaults) is an error wrapping ErrSharedConflict. cfg must be valid.
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
	if l, ok := r.buckets[cfg.Shared]; ok {
		if l.rate != cfg.Rate || l.burst != burst {
			return nil, fmt.Errorf("ratelimit: shared bucket %q has rate %s/s burst %d, asked for rate %s/s burst %d: %w",
				cfg.Shared, fmtRate(l.rate), l.burst, fmtRate(cfg.Rate), burst, ErrSharedConflict)
		}
		return l, nil
	}
	l := NewLocal(cfg.Rate, burst, WithClock(r.clock))
	r.buckets[cfg.Shared] = l
	return l, nil
}

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
