package retry

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
)

// backoff returns the sleep before retry n (0 for the first retry), given the previous sleep
// (used by decorrelated jitter; 0 before the first retry) and the random source. It does not
// allocate.
func (p *Policy) backoff(n int, prev time.Duration, rnd func() float64) time.Duration {
	c := &p.cfg
	maxB := float64(c.MaxBackoff)
	if c.Jitter == JitterDecorrelated {
		if prev < c.InitialBackoff {
			prev = c.InitialBackoff
		}
		lo := float64(c.InitialBackoff)
		hi := 3 * float64(prev)
		return clampDur(min(lo+rnd()*(hi-lo), maxB))
	}
	d := min(float64(c.InitialBackoff)*math.Pow(c.Multiplier, float64(n)), maxB)
	switch c.Jitter {
	case JitterNone:
	case JitterEqual:
		d = d/2 + rnd()*d/2
	case JitterAdditive:
		d = min(d+rnd()*float64(c.JitterAmount), maxB)
	default: // JitterFull
		d = rnd() * d
	}
	return clampDur(d)
}

func clampDur(f float64) time.Duration {
	if f <= 0 || math.IsNaN(f) {
		return 0
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(f)
}

// Budget is gRFC A6's retry throttling token bucket for one service, in thousandths of a token
// so that the arithmetic is exact for ratios with up to three decimals. Retries and hedged
// attempts (interceptors/hedge) of every call to the service draw from it. It is safe for
// concurrent use and allocates nothing.
type Budget struct {
	milli     atomic.Int64
	max       int64
	ratio     int64
	threshold int64
}

func newBudget(t Throttle) *Budget {
	b := &Budget{
		max:   int64(math.Round(t.MaxTokens * 1000)),
		ratio: int64(math.Round(t.TokenRatio * 1000)),
	}
	b.threshold = b.max / 2
	b.milli.Store(b.max)
	return b
}

// Record takes one token for an attempt that failed (a class that counts against health) and
// gives back TokenRatio for a success. Other outcomes leave the bucket alone.
func (b *Budget) Record(v codes.Verdict) {
	var delta int64
	switch {
	case v.Class == codes.Success:
		delta = b.ratio
	case v.Class.Failure():
		delta = -1000
	default:
		return
	}
	b.add(delta)
}

func (b *Budget) add(delta int64) {
	for {
		old := b.milli.Load()
		next := min(max(old+delta, 0), b.max)
		if next == old || b.milli.CompareAndSwap(old, next) {
			return
		}
	}
}

// Allow reports whether a retry may be made: the bucket holds more than half its tokens.
func (b *Budget) Allow() bool { return b.milli.Load() > b.threshold }

// Withdraw takes one token for an extra attempt that is not a retry of a failure (a hedge)
// when the bucket holds more than half its tokens, and reports whether it did. A hedge thus
// costs what a failure costs, and successes pay it back at TokenRatio each: in steady state
// hedges add at most TokenRatio extra attempts per successful call.
func (b *Budget) Withdraw() bool {
	for {
		old := b.milli.Load()
		if old <= b.threshold {
			return false
		}
		if b.milli.CompareAndSwap(old, max(old-1000, 0)) {
			return true
		}
	}
}

// Tokens returns the tokens in the bucket now.
func (b *Budget) Tokens() float64 { return float64(b.milli.Load()) / 1000 }
