package ratelimit

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"golang.org/x/time/rate"
)

// Local is an in-process token bucket. It is safe for concurrent use.
type Local struct {
	lim    *rate.Limiter
	rate   float64
	burst  int
	clock  clock.Clock
	base   time.Time    // when the bucket was made, by clock
	latest atomic.Int64 // the latest time a take used, as an offset from base (see notBefore)
}

var _ Limiter = (*Local)(nil)

// NewLocal returns a bucket of burst tokens, full, that refills at r tokens per second.
// A burst below 1 means max(1, ceil(r)), as in Config. A rate of 0 or less never refills: the
// bucket serves its burst and then nothing, with an unknown RetryAfter.
func NewLocal(r float64, burst int, opts ...Option) *Local {
	burst = defaultBurst(r, burst)
	limit := rate.Limit(max(r, 0))
	c := buildOptions(opts).Clock
	return &Local{lim: rate.NewLimiter(limit, burst), rate: max(r, 0), burst: burst, clock: c, base: c.Now()}
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

// take is Take at now, a reading of l's clock. A caller whose context has ended takes
// nothing: its call would not be made.
func (l *Local) take(ctx context.Context, maxWait time.Duration, now time.Time) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now = l.notBefore(now)
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

// notBefore returns now, or a time a take used before when now is earlier: a caller may read
// the clock before another and reach the bucket after it (EnterAt takes the call's start),
// and x/time/rate, given a time before the last it saw, moves its clock back and refills the
// same span twice. The mark moves in steps of latestStep, so that the takes of many cores do
// not all write it: a span refilled twice is at most that step (a tenth of a token at 1000/s).
// Times are offsets from the bucket's creation, on the monotonic clock when both readings
// have it, so that a step of the wall clock does not stop the bucket.
func (l *Local) notBefore(now time.Time) time.Time {
	n := int64(now.Sub(l.base))
	for {
		h := l.latest.Load()
		switch {
		case n < h:
			return l.base.Add(time.Duration(h))
		case n < h+int64(latestStep) || l.latest.CompareAndSwap(h, n):
			return now
		}
	}
}

// latestStep is how far the time of a take must pass the mark before it moves (see notBefore).
const latestStep = 100 * time.Microsecond

// ceilDuration rounds ns up to a whole nanosecond, but first forgives float error far below a
// nanosecond, so that 1ms computed as 1000000.0000001ns stays 1ms. A wait past what a Duration
// holds is the longest one.
func ceilDuration(ns float64) time.Duration {
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
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
