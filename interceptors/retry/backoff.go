package retry

import (
	"math"
	"time"
)

// schedule is where a call's backoff stands: the step of the exponential schedule the next
// sleep is computed for, and the previous computed sleep (decorrelated jitter; 0 before the
// first). A pushback-directed sleep restarts it (gRFC A6: after a pushback the next backoff
// starts again from the initial backoff), and is never taken as "the previous sleep".
type schedule struct {
	step int
	prev time.Duration
}

// next returns the schedule after a sleep of d, which the server directed when pushed.
func (s schedule) next(d time.Duration, pushed bool) schedule {
	if pushed {
		return schedule{}
	}
	return schedule{step: s.step + 1, prev: d}
}

// backoff returns the nominal sleep at schedule s, from the random source, and the largest
// value that sleep can take (the jitter at its upper bound). It does not allocate.
func (p *Policy) backoff(s schedule, rnd func() float64) (d, upper time.Duration) {
	c := &p.cfg
	maxB := float64(c.MaxBackoff)
	if c.Jitter == JitterDecorrelated {
		prev := max(s.prev, c.InitialBackoff)
		lo := float64(c.InitialBackoff)
		hi := min(3*float64(prev), maxB)
		return clampDur(min(lo+rnd()*(3*float64(prev)-lo), maxB)), clampDur(max(hi, lo))
	}
	b := min(float64(c.InitialBackoff)*math.Pow(c.Multiplier, float64(s.step)), maxB)
	switch c.Jitter {
	case JitterNone:
		return clampDur(b), clampDur(b)
	case JitterEqual:
		return clampDur(b/2 + rnd()*b/2), clampDur(b)
	case JitterAdditive:
		return clampDur(min(b+rnd()*float64(c.JitterAmount), maxB)), clampDur(min(b+float64(c.JitterAmount), maxB))
	default: // JitterFull
		return clampDur(rnd() * b), clampDur(b)
	}
}

// fit shapes a nominal sleep d (at most upper) to the time that remains before end, with left
// attempts still to run after it: the remaining time is shared equally among those attempts,
// and a sleep may take at most half of its attempt's share, cap = remaining/(2·left). When
// upper exceeds cap the sleep is scaled by cap/upper, which keeps the jitter's spread (callers
// that failed together do not all wake at cap) and leaves sleeps that fit untouched only when
// even the longest draw fits. end zero means no limit, and d is returned as it is.
func fit(d, upper time.Duration, now, end time.Time, left int) time.Duration {
	if end.IsZero() || left < 1 || upper <= 0 {
		return d
	}
	limit := end.Sub(now) / time.Duration(2*left)
	if limit <= 0 {
		return 0
	}
	if upper <= limit {
		return d
	}
	return clampDur(float64(d) * (float64(limit) / float64(upper)))
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
