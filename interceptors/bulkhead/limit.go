package bulkhead

import (
	"math"
	"time"
)

const (
	// shortWindow is how many samples the gradient's short-term latency average spans.
	shortWindow = 10
	// minGradient is the least the gradient may be: one sample can at most halve the estimate
	// before smoothing.
	minGradient = 0.5
	// driftRatio is how much lower the short-term latency must be than the long-term one before
	// the long-term one is pulled down by driftFactor per sample.
	driftRatio  = 2
	driftFactor = 0.95
	// backoffSlack is how far below a whole number a backed-off limit is read as that number
	// (see aimd).
	backoffSlack = 1e-9
	// gradientSlack is how far below 1 a gradient is read as 1 (see gradient).
	gradientSlack = 1e-9
)

// sampleKind is what one finished call says about the service.
type sampleKind uint8

const (
	// sampleNone: no sample (a plain Release, a panic, a canceled or rejected call, a business
	// error, a server fault faster than a healthy answer).
	sampleNone sampleKind = iota
	// sampleOK: the service answered with a success in the latency.
	sampleOK
	// sampleDrop: a sign of overload: the call failed throttled (the server, or a proxy, said
	// it sheds load).
	sampleDrop
	// sampleTransient: the call failed transient (Unavailable, its caller's deadline passed,
	// ...) after latency: a drop only if that was long enough to tell (see transient).
	sampleTransient
	// sampleFault: the call failed with a server fault (Internal, Unknown, DataLoss) after
	// latency: a drop only if that was long enough to tell, and no sample when there is no
	// healthy answer time to tell by (see fault).
	sampleFault
)

// limit is the algorithm of an adaptive limit: it turns samples into an estimate between
// floor and ceiling. It is not safe for concurrent use: the adaptive semaphore guards it.
type limit struct {
	algorithm Algorithm
	floor     float64
	ceiling   float64
	est       float64 // the estimate; the admission limit is its integer part

	// aimd
	backoff   float64
	threshold time.Duration

	// gradient
	smoothing  float64
	tolerance  float64
	shortAlpha float64
	longAlpha  float64
	short      float64 // exponential average of recent latencies, in nanoseconds; 0: no sample yet
	long       float64 // the baseline: latency without queueing, in nanoseconds
}

// newLimit returns the algorithm for a, with a's zero fields set to their defaults (see
// Normalize). ceiling is Config.MaxConcurrent (defaulted); a must be valid.
func newLimit(a Adaptive, ceiling int) *limit {
	a = Normalize(Config{MaxConcurrent: ceiling, Adaptive: a}).Adaptive
	return &limit{
		algorithm:  a.Algorithm,
		floor:      float64(a.MinLimit),
		ceiling:    float64(ceiling),
		backoff:    a.BackoffRatio,
		threshold:  a.LatencyThreshold,
		smoothing:  a.Smoothing,
		tolerance:  a.Tolerance,
		shortAlpha: 2.0 / (shortWindow + 1),
		longAlpha:  2 / float64(a.LongWindow+1),
		est:        float64(a.InitialLimit),
	}
}

// current returns the admission limit: the integer part of the estimate.
func (l *limit) current() int { return int(l.est) }

// sample moves the estimate by one sample: a call that took latency, with inFlight calls in
// flight (its own included) when it ended.
func (l *limit) sample(kind sampleKind, latency time.Duration, inFlight int) {
	inUse := 2*inFlight >= l.current()
	switch l.algorithm {
	case AlgorithmAIMD:
		l.aimd(l.overload(kind, latency), inUse)
	case AlgorithmGradient:
		l.gradient(kind == sampleDrop, latency, inUse)
	}
}

// transient judges a call that failed transient after latency (Unavailable, or its caller's
// deadline passed while it held its slot): a drop if it took at least the time a healthy
// answer takes, LatencyThreshold for AIMD, Tolerance times the baseline for the gradient, and
// no sample if not. A failure faster than a healthy answer is no sign of a queue: a random
// fault (a replica restarting, a connection reset) at the service's normal latency, or a
// caller's deadline shorter than that (too tight for the method, or spent waiting in this
// bulkhead's queue). Counted, 5 % of such faults held a 100-slot limit near 15 and 20 % near
// 8, whatever the service could take: each round trip brought one rise and one back-off.
// Without a threshold (AIMD is then loss-based, every failure a drop), or a baseline yet,
// nothing tells, and it is a drop.
func (l *limit) transient(latency time.Duration) sampleKind {
	healthy, ok := l.healthy()
	if !ok {
		return sampleDrop
	}
	if float64(latency) < healthy {
		return sampleNone
	}
	return sampleDrop
}

// fault judges a server fault that took latency as transient does, but with no healthy answer
// time to tell by (AIMD without a LatencyThreshold, a gradient before its first answer) it is
// no sample: a broken service may fail every call fast, and random faults at the service's
// normal latency are no queue (see classify).
func (l *limit) fault(latency time.Duration) sampleKind {
	if healthy, ok := l.healthy(); ok && float64(latency) >= healthy {
		return sampleDrop
	}
	return sampleNone
}

// healthy returns the time a healthy answer takes, in nanoseconds, and false if the algorithm
// has none: AIMD's LatencyThreshold, or Tolerance times the gradient's baseline once it has one.
func (l *limit) healthy() (float64, bool) {
	var healthy float64
	switch {
	case l.algorithm == AlgorithmAIMD && l.threshold > 0:
		healthy = float64(l.threshold)
	case l.algorithm == AlgorithmGradient && l.short != 0:
		healthy = l.tolerance * l.long
	default:
		return 0, false
	}
	return healthy, true
}

// overload reports whether a sample is a sign of overload, one that backs the limit off: a
// drop, or for AIMD an answer slower than its latency threshold. (The gradient's answers move
// the limit either way with the latency: they are not.)
func (l *limit) overload(kind sampleKind, latency time.Duration) bool {
	return kind == sampleDrop || (l.algorithm == AlgorithmAIMD && l.threshold > 0 && latency > l.threshold)
}

func (l *limit) aimd(drop, inUse bool) {
	switch {
	case drop:
		// l.est is a whole number, but l.est·backoff in float64 may fall a hair below the whole
		// number the product makes as written (90 × 0.7 is 62.99999999999999), and rounding
		// down would take one slot too many. The nudge is far above that error (about 1e-10
		// at the largest ceiling) and far below the fraction of any product of a ratio with
		// fewer than nine decimals.
		l.est = max(l.floor, math.Floor(l.est*l.backoff+backoffSlack))
	case inUse:
		l.est = min(l.ceiling, l.est+1)
	}
}

func (l *limit) gradient(drop bool, latency time.Duration, inUse bool) {
	if drop {
		// The latency of a call that timed out or was shed says nothing about the service's
		// queue (it is the caller's deadline, or the time to be refused): back off as AIMD does.
		// A product a hair below a whole number is that number, as in aimd.
		next := l.est * l.backoff
		if whole := math.Ceil(next); whole-next < backoffSlack {
			next = whole
		}
		l.est = max(l.floor, next)
		return
	}
	s := float64(max(latency, 1))
	if l.short == 0 {
		l.short, l.long = s, s
	} else {
		// A sample counts at most tolerance/minGradient times the baseline, the latency at
		// which the gradient reaches its least: a queue that long already gets the full
		// response, and one outlier (a request stuck on a stalled replica, a pause of the
		// client) would otherwise lift the short-term average as far as a queue does and
		// halve the limit on its own (see "Gradient" in the package documentation).
		s = min(s, l.tolerance/minGradient*l.long)
		l.short += l.shortAlpha * (s - l.short)
		switch {
		case s < l.long:
			// A faster call is evidence of a shorter queue than the baseline assumed (the
			// first calls of a connection also pay for setting it up): learned quickly.
			l.long += l.shortAlpha * (s - l.long)
		case !inUse:
			// A call that found no queue of ours: the service's own latency, learned slowly.
			l.long += l.longAlpha * (s - l.long)
		case l.est <= l.floor:
			// At the floor our own queue is as short as it can be: what is left is the
			// service's latency, learned quickly so that a service that got slower for good
			// lets the limit grow again.
			l.long += l.shortAlpha * (s - l.long)
		}
		if l.short*driftRatio < l.long {
			l.long = max(l.short, l.long*driftFactor)
		}
	}
	// An average settles a few units in the last place off the latency it follows, so that
	// at a Tolerance of 1 a latency back at the baseline gives a gradient a hair below 1,
	// which would hold the limit for good: within gradientSlack of 1 is 1.
	g := max(minGradient, l.tolerance*l.long/l.short)
	if g > 1-gradientSlack {
		g = 1
	}
	next := l.est * g
	if g == 1 {
		if !inUse {
			return // no queue, but no evidence either that a higher limit would be used
		}
		next += math.Sqrt(l.est) // room for a queue of sqrt(limit) calls
	}
	next = l.est*(1-l.smoothing) + next*l.smoothing
	l.est = min(l.ceiling, max(l.floor, next))
}
