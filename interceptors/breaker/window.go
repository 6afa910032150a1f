package breaker

import (
	"time"

	"github.com/bulwarkrpc/bulwark/internal/buckets"
)

// outcome bits kept per call in the count window.
const (
	outFailure uint8 = 1 << iota
	outSlow
)

// timeBuckets is how many buckets a time window is cut into: the window slides in steps of a
// tenth of its duration.
const timeBuckets = 10

// bucket is one slice of a time window.
type bucket struct {
	calls, failures, slow int
}

// window holds the outcomes that rates are judged on: the last size calls (count window) or the
// calls of the last duration, in buckets (time window). It keeps running totals so a judgement
// costs no scan. A window is not safe for concurrent use: the Breaker guards it with its mutex.
type window struct {
	// Count window: a ring of outcome bits.
	ring []uint8
	next int

	// Time window: buckets indexed by epoch % len(buckets), where an epoch is a width-long
	// stretch of time since the breaker's origin; head is the newest epoch seen.
	buckets []bucket
	width   int64
	head    int64

	calls, failures, slow int
}

func newCountWindow(size int) window { return window{ring: make([]uint8, size)} }

func newTimeWindow(d time.Duration) window {
	width := max(int64(d)/timeBuckets, 1)
	n := max((int64(d)+width-1)/width, 1) // Enough buckets to cover d.
	return window{buckets: make([]bucket, n), width: width}
}

// add records one outcome at elapsed time since the breaker's origin (the time window's clock).
func (w *window) add(failure, slow bool, elapsed time.Duration) {
	if w.buckets != nil {
		w.advance(elapsed)
		b := &w.buckets[w.head%int64(len(w.buckets))]
		b.calls++
		w.calls++
		if failure {
			b.failures++
			w.failures++
		}
		if slow {
			b.slow++
			w.slow++
		}
		return
	}
	var bits uint8
	if failure {
		bits |= outFailure
	}
	if slow {
		bits |= outSlow
	}
	if w.calls == len(w.ring) {
		old := w.ring[w.next]
		if old&outFailure != 0 {
			w.failures--
		}
		if old&outSlow != 0 {
			w.slow--
		}
	} else {
		w.calls++
	}
	w.ring[w.next] = bits
	if failure {
		w.failures++
	}
	if slow {
		w.slow++
	}
	w.next++
	if w.next == len(w.ring) {
		w.next = 0
	}
}

// advance expires the time window's buckets older than the window at elapsed. A clock that goes
// backwards is read as standing still.
func (w *window) advance(elapsed time.Duration) {
	if w.buckets == nil {
		return
	}
	w.head = buckets.Expire(w.head, int64(elapsed)/w.width, len(w.buckets), func(i int) {
		b := &w.buckets[i]
		w.calls -= b.calls
		w.failures -= b.failures
		w.slow -= b.slow
		*b = bucket{}
	})
}

// reset forgets every outcome. It keeps the time window's head, which only moves forward.
func (w *window) reset() {
	clear(w.ring)
	clear(w.buckets)
	w.next = 0
	w.calls, w.failures, w.slow = 0, 0, 0
}

// judged reports whether rate is at or above threshold, once the window holds minCalls outcomes.
func judged(count, calls, minCalls int, threshold float64) bool {
	if threshold <= 0 || calls == 0 || calls < minCalls {
		return false
	}
	return float64(count)/float64(calls) >= threshold
}
