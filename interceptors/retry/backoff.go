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

// bucket is gRFC A6's retry throttling token bucket, in thousandths of a token so that the
// arithmetic is exact for ratios with up to three decimals. Safe for concurrent use.
type bucket struct {
	milli     atomic.Int64
	max       int64
	ratio     int64
	threshold int64
}

func newBucket(t Throttle) *bucket {
	b := &bucket{
		max:   int64(math.Round(t.MaxTokens * 1000)),
		ratio: int64(math.Round(t.TokenRatio * 1000)),
	}
	b.threshold = b.max / 2
	b.milli.Store(b.max)
	return b
}

// record takes one token for an attempt that failed (a class that counts against health) and
// gives back TokenRatio for a success. Other outcomes leave the bucket alone.
func (b *bucket) record(v codes.Verdict) {
	var delta int64
	switch {
	case v.Class == codes.Success:
		delta = b.ratio
	case v.Class.Failure():
		delta = -1000
	default:
		return
	}
	for {
		old := b.milli.Load()
		next := min(max(old+delta, 0), b.max)
		if next == old || b.milli.CompareAndSwap(old, next) {
			return
		}
	}
}

// allow reports whether a retry may be made: the bucket holds more than half its tokens.
func (b *bucket) allow() bool { return b.milli.Load() > b.threshold }
