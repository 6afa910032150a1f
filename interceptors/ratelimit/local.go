package ratelimit

import (
	"context"
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"google.golang.org/grpc"
)

// Local is an in-process token bucket. It is safe for concurrent use.
//
// Its state is one number, full: the time at which the bucket is full again if nothing more is
// taken (the generic cell rate algorithm's theoretical arrival time). The bucket holds
// burst - (full-now)/interval tokens at now, at most burst. A take moves full one token later,
// from now when full has passed; it is allowed when the token it takes is due by now, that is
// when full, so moved, is at most burst tokens past now. Takes swap full atomically, without a
// lock, and full never moves back but for a waiter that gives its token back: a take at an
// earlier time than another's finds the tokens that one took gone, so no span of time refills
// twice.
//
// Times are ticks since base: a tick is 1/per of a token's time, per being the token's time in
// whole nanoseconds rounded up, so that a tick is at most a nanosecond and a token exactly per
// ticks (no drift over a long run, whatever the rate). mul converts nanoseconds to ticks.
type Local struct {
	full  atomic.Int64 // when the bucket is full again, in ticks since base
	mul   uint64       // ticks per nanosecond, in units of 2^-62
	slack uint64       // added to ns×mul to bound the due time of an allowed token (see ticks)
	per   int64        // ticks per token; 0: the bucket never runs out
	depth int64        // ticks of burst tokens: how far past now full may be
	base  time.Time    // when the bucket was made, by clock
	clock clock.Clock
	rate  float64
	burst int
}

var _ Limiter = (*Local)(nil)

// Bounds that keep the ticks' arithmetic within an int64 (see scale).
const (
	// maxDepth bounds a bucket's depth (2^60 ticks, 36 years at a nanosecond a tick).
	maxDepth = 1 << 60
	// maxOffset is the latest time after base the bucket refills to (2^61 ns, 73 years); with
	// at most 2 ticks a nanosecond, times stay below 2^62 ticks.
	maxOffset = 1 << 61
	// maxAhead bounds how far past now a waiter may reserve (2^61 ticks).
	maxAhead = 1 << 61
	// one is 1 in ticks per nanosecond (mul's fixed point).
	one = 1 << 62
)

// NewLocal returns a bucket of burst tokens, full, that refills at r tokens per second.
// A burst below 1 means max(1, ceil(r)), as in Config. A rate of 0 or less never refills: the
// bucket serves its burst and then nothing, with an unknown RetryAfter. A rate above 1e9 (more
// than a token a nanosecond, above Config's largest) never runs out. A bucket refills for 2^61
// ns (73 years) after it is made, by its clock, and then stands still: at a rate below one
// token per 73 years (Config takes down to MinRate, one per century) a token taken is never
// given back, though RetryAfter names the time it was due.
func NewLocal(r float64, burst int, opts ...Option) *Local {
	burst = defaultBurst(r, burst)
	c := buildOptions(opts).Clock
	l := &Local{rate: max(r, 0), burst: burst, clock: c, base: c.Now()}
	l.per, l.depth, l.mul = scale(r, burst)
	l.slack = max(l.mul, one) - 1
	return l
}

// scale returns the ticks of a token (per) and of the bucket (depth), and mul (see Local), for
// rate r and burst. A token is ceil(1e9/r) ticks, so that a tick is between half a nanosecond
// and one, unless burst such tokens would pass maxDepth: then a token is fewer ticks, each
// longer than a nanosecond (a bucket that takes over 36 years to fill has no use for finer
// times). A rate of 0 or less has mul 0 (time never refills it); a rate above 1e9, or NaN,
// has per 0 (a take moves nothing).
func scale(r float64, burst int) (per, depth int64, mul uint64) {
	switch {
	case r <= 0:
		return 1, min(int64(burst), maxDepth), 0
	case !(r <= 1e9):
		return 0, maxDepth, one
	}
	interval := 1e9 / r // nanoseconds a token, at least 1
	per = max(1, maxDepth/int64(burst))
	if c := math.Ceil(interval); c < float64(per) {
		per = int64(c)
	}
	depth = min(per*int64(burst), maxDepth)
	// float64(per)/interval is below 2; so rounded to 62 bits it fits a uint64. Its error, a few
	// parts in 1e16, is the rate's, as in x/time/rate's float arithmetic.
	mul = uint64(math.Round(float64(per) / interval * one))
	return per, depth, mul
}

// Rate returns the refill rate in tokens per second.
func (l *Local) Rate() float64 { return l.rate }

// Burst returns the bucket's size.
func (l *Local) Burst() int { return l.burst }

// Tokens returns the tokens in the bucket now; it is negative while waiters hold reservations.
// It counts to the tick that takes count to (see ticks), which may be less than a tick's worth
// of a token (1/per) below x/time/rate's count.
func (l *Local) Tokens() float64 {
	if l.per == 0 {
		return float64(l.burst)
	}
	now, _ := l.ticks(clock.Since(l.clock, l.base))
	return min(float64(l.burst), float64(now+l.depth-l.full.Load())/float64(l.per))
}

// Take implements Limiter (see the package documentation for each outcome). The only error it
// returns is the context's, when the context ends during a wait.
func (l *Local) Take(ctx context.Context, maxWait time.Duration) (Decision, error) {
	return l.takeAfter(ctx, maxWait, clock.Since(l.clock, l.base))
}

// take is Take at now, a reading of l's clock.
func (l *Local) take(ctx context.Context, maxWait time.Duration, now time.Time) (Decision, error) {
	return l.takeAfter(ctx, maxWait, now.Sub(l.base))
}

var _ ConnLimiter = (*Local)(nil)

// TakeConn implements ConnLimiter: Take for a call made on cc (nil: none), whose wait ends
// when cc shuts down, the token it had reserved given back as for a context that ended.
func (l *Local) TakeConn(ctx context.Context, cc *grpc.ClientConn, maxWait time.Duration) (Decision, error) {
	return l.takeConnAfter(ctx, cc, maxWait, clock.Since(l.clock, l.base))
}

// takeConnAfter is takeAfter for a call made on cc (nil: none): a take that finds no token
// and may wait waits (see wait) until cc shuts down at the latest. It takes as takeAfter
// does, not waiting, then waits: takeAfter itself passes no ClientConn.
func (l *Local) takeConnAfter(ctx context.Context, cc *grpc.ClientConn, maxWait, t time.Duration) (Decision, error) {
	d, err := l.takeAfter(ctx, 0, t)
	if err != nil || d.Allowed || maxWait <= 0 {
		return d, err
	}
	return l.wait(ctx, cc, t, maxWait)
}

// takeAfter is Take at t after base. Times are offsets from base, on the monotonic clock when
// both readings have it, so that a step of the wall clock does not stop the bucket. A caller
// whose context has ended takes nothing: its call would not be made.
func (l *Local) takeAfter(ctx context.Context, maxWait, t time.Duration) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	now, due := l.ticks(t)
	var at int64 // when the token the take would have had falls due
	for {
		full := l.full.Load()
		next := max(full, now) + l.per
		if at = next - l.depth; at > due {
			break
		}
		if l.full.CompareAndSwap(full, next) {
			return Decision{Allowed: true}, nil
		}
	}
	if testHookRefused != nil {
		testHookRefused()
	}
	if maxWait <= 0 {
		return Decision{RetryAfter: l.retryAfter(at, t)}, nil
	}
	return l.wait(ctx, nil, t, maxWait)
}

// testHookRefused, when not nil, runs once a take found no token, before it answers: a test
// moves the bucket there as a take of another goroutine could.
var testHookRefused func()

// ticks returns, for t after base, now: the tick t is in, rounded up (a take from a full bucket
// moves full there, so that a take is never allowed before x/time/rate allows it); and due:
// the last tick a token allowed at t may be due at. x/time/rate allows a token due less than a
// nanosecond after t (it truncates the wait to whole nanoseconds), so due is the last tick
// before t+1ns: ceil((t+1ns)×mul) - 1, that is floor((t×mul + mul - 1) / 2^62). For a tick
// longer than a nanosecond (mul below one) that would be before now; slack makes due now.
// Times before base are base; times past maxOffset are maxOffset.
func (l *Local) ticks(t time.Duration) (now, due int64) {
	hi, lo := bits.Mul64(uint64(min(max(t, 0), maxOffset)), l.mul)
	nlo, nc := bits.Add64(lo, one-1, 0)
	dlo, dc := bits.Add64(lo, l.slack, 0)
	return int64((hi+nc)<<2 | nlo>>62), int64((hi+dc)<<2 | dlo>>62)
}

// exact returns t after base in ticks: the whole ticks, rounded down, and the fraction of a
// tick beyond them.
func (l *Local) exact(t time.Duration) (ticks int64, frac float64) {
	hi, lo := bits.Mul64(uint64(min(max(t, 0), maxOffset)), l.mul)
	return int64(hi<<2 | lo>>62), float64(lo&(one-1)) / one
}

// delay returns how long after t a token due at tick at comes, rounded up to the nanosecond
// (see ceilDuration); the longest Duration when time never brings it (mul 0).
func (l *Local) delay(at int64, t time.Duration) time.Duration {
	now, frac := l.exact(t)
	return ceilDuration((float64(at-now) - frac) * (one / float64(l.mul)))
}

// retryAfter is how long after t until the token due at tick at, which a take at t was
// refused, comes: from the reading that refused the take, not a second one (a waiter giving
// its token back in between would make that one find a token due now, and RetryAfter 0, on
// which a caller would spin). It is at least a nanosecond, and 0 only when the bucket never
// refills (unknown).
func (l *Local) retryAfter(at int64, t time.Duration) time.Duration {
	if l.rate <= 0 {
		return 0
	}
	return max(time.Nanosecond, l.delay(at, t))
}

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

// wait reserves the next token for a take at t after base that found none, and waits for it
// unless it comes later than maxWait or the context's deadline; then it reserves nothing and
// answers at once with the delay. When cc (nil: none) shuts down during the wait
// (ClientConn.Close, which streamend.ConnDone tells, asked only here: a call that waits), the
// token is given back as for a context that ended, and the wait returns ErrConnClosing.
func (l *Local) wait(ctx context.Context, cc *grpc.ClientConn, t, maxWait time.Duration) (Decision, error) {
	if l.rate <= 0 {
		return Decision{}, nil
	}
	now, due := l.ticks(t)
	var next, at int64
	var delay time.Duration
	for {
		full := l.full.Load()
		next = max(full, now) + l.per
		at = next - l.depth
		if at <= due { // a waiter gave its token back since the take looked
			if l.full.CompareAndSwap(full, next) {
				return Decision{Allowed: true}, nil
			}
			continue
		}
		delay = l.delay(at, t)
		tooLate := delay > maxWait || at-now > maxAhead
		// A token due at the deadline leaves the call no time: the call would fail with
		// DeadlineExceeded, counted against the service by the policies above.
		if dl, ok := ctx.Deadline(); ok && !l.reading(t, dl).Add(delay).Before(dl) {
			tooLate = true
		}
		if tooLate {
			return Decision{RetryAfter: delay}, nil
		}
		if l.full.CompareAndSwap(full, next) {
			break
		}
	}
	timer := l.clock.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C():
		return Decision{Allowed: true}, nil
	case <-ctx.Done():
		l.giveBack(next, at)
		return Decision{}, ctx.Err()
	case <-streamend.ConnDone(cc):
		l.giveBack(next, at)
		return Decision{}, ErrConnClosing
	}
}

// reading returns the time t after base as a reading to compare with dl, a deadline, of the
// same kind: base moved by t when dl carries a monotonic reading, as base does (Before then
// compares the monotonic readings), or when base carries none (a clock of wall readings
// alone, such as a fake: base moved by t is its wall time). A dl without one (time.Unix, a
// deadline gone through Round(0)) is a wall time, which the context package times against
// the wall clock now: it is compared with a reading of the clock now, not with base's wall
// reading moved by t, which misses every step of the system's clock since base was read.
// The reading comes a moment after t, so the wait it allows ends no later than the deadline.
func (l *Local) reading(t time.Duration, dl time.Time) time.Time {
	if !monotonic(dl) && monotonic(l.base) {
		return l.clock.Now()
	}
	return l.base.Add(t)
}

// monotonic reports whether t carries a monotonic reading (Round(0) strips it; == compares
// it).
func monotonic(t time.Time) bool { return t.Round(0) != t }

// giveBack returns the token of a waiter that stops waiting (its context ended), which moved
// full to next for a token due at tick at, as x/time/rate's CancelAt does: once the token is
// due it is spent, and while it is not, full moves back one token only if no take came after
// the waiter's (full is still next). A take after it holds a later token; moving full back
// would let a new take have that token too, so the waiter's token stays spent, as x/time/rate
// gives back a reservation's tokens less those reserved after it.
func (l *Local) giveBack(next, at int64) {
	if now, _ := l.ticks(clock.Since(l.clock, l.base)); now > at {
		return
	}
	l.full.CompareAndSwap(next, next-l.per)
}
