package ratelimit

import (
	"context"
	"math"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"golang.org/x/time/rate"
)

// Local is an in-process token bucket. It is safe for concurrent use.
type Local struct {
	lim   *rate.Limiter
	rate  float64
	burst int
	clock clock.Clock
}

var _ Limiter = (*Local)(nil)

// NewLocal returns a bucket of burst tokens, full, that refills at r tokens per second.
// A burst below 1 means max(1, ceil(r)), as in Config. A rate of 0 or less never refills: the
// bucket serves its burst and then nothing, with an unknown RetryAfter.
func NewLocal(r float64, burst int, opts ...Option) *Local {
	burst = defaultBurst(r, burst)
	limit := rate.Limit(max(r, 0))
	return &Local{lim: rate.NewLimiter(limit, burst), rate: max(r, 0), burst: burst, clock: buildOptions(opts).Clock}
}

// Rate returns the refill rate in tokens per second.
func (l *Local) Rate() float64 { return l.rate }

// Burst returns the bucket's size.
func (l *Local) Burst() int { return l.burst }

// Tokens returns the tokens in the bucket now; it is negative while waiters hold reservations.
func (l *Local) Tokens() float64 { return l.lim.TokensAt(l.clock.Now()) }

// Take implements Limiter (see the package documentation for each outcome). The only error it
// returns is the context's, when the context ends during a wait.
func (l *Local) Take(ctx context.Context, maxWait time.Duration) (Decision, error) {
	return l.take(ctx, maxWait, l.clock.Now())
}

// take is Take at now, a reading of l's clock.
func (l *Local) take(ctx context.Context, maxWait time.Duration, now time.Time) (Decision, error) {
	if l.lim.AllowN(now, 1) {
		return Decision{Allowed: true}, nil
	}
	if maxWait <= 0 {
		return Decision{RetryAfter: l.retryAfter(now)}, nil
	}
	return l.wait(ctx, now, maxWait)
}

// retryAfter is how long until one token is in the bucket, rounded up to the nanosecond, or 0
// when the bucket never refills.
func (l *Local) retryAfter(now time.Time) time.Duration {
	if l.rate <= 0 {
		return 0
	}
	need := 1 - l.lim.TokensAt(now)
	if need <= 0 {
		return 0
	}
	return ceilDuration(need / l.rate * float64(time.Second))
}

// ceilDuration rounds ns up to a whole nanosecond, but first forgives float error far below a
// nanosecond, so that 1ms computed as 1000000.0000001ns stays 1ms.
func ceilDuration(ns float64) time.Duration {
	if r := math.Round(ns); math.Abs(ns-r) < 1e-3 {
		return time.Duration(r)
	}
	return time.Duration(math.Ceil(ns))
}

func (l *Local) wait(ctx context.Context, now time.Time, maxWait time.Duration) (Decision, error) {
	if l.rate <= 0 {
		return Decision{}, nil
	}
	r := l.lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return Decision{Allowed: true}, nil
	}
	tooLate := delay > maxWait
	if dl, ok := ctx.Deadline(); ok && now.Add(delay).After(dl) {
		tooLate = true
	}
	if tooLate {
		r.CancelAt(now)
		return Decision{RetryAfter: delay}, nil
	}
	t := l.clock.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C():
		return Decision{Allowed: true}, nil
	case <-ctx.Done():
		r.CancelAt(l.clock.Now())
		return Decision{}, ctx.Err()
	}
}
