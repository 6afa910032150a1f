package throttle

import (
	"math/bits"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/buckets"
)

// numBuckets is how many buckets the window is cut into: it slides in steps of a twentieth of
// its duration.
const numBuckets = 20

// bucket is one slice of the window.
type bucket struct {
	requests, accepts int64
}

// window counts requests and accepts over the last numBuckets epochs, an epoch being a
// twentieth of the window's duration d since the throttle's origin: epoch k starts at k·d/20
// rounded up to the nanosecond, so that numBuckets epochs span d exactly, whatever d. It
// keeps running totals, so reading it costs no scan, and expires buckets lazily as the clock
// moves. It is safe for concurrent
// use (a short mutex: measured against a lock-free window of per-bucket atomic words, it was
// faster serially and under contention, see BenchmarkAllowRecord) and never allocates after
// newWindow.
type window struct {
	d uint64 // The window's duration, in nanoseconds: numBuckets epochs.

	mu                sync.Mutex
	head              int64              // Guarded by mu: the newest epoch seen.
	buckets           [numBuckets]bucket // Guarded by mu: indexed by epoch % numBuckets.
	requests, accepts int64              // Guarded by mu: the totals of buckets.
}

func newWindow(d time.Duration) *window {
	return &window{d: uint64(max(d, numBuckets))}
}

// epoch returns the epoch of elapsed time since the origin: elapsed·20/d, in 128 bits so that
// no elapsed time overflows (the high word, below 20, is below d, and the quotient below
// 2^63). A clock that reads before the origin is read as the origin. An epoch of a whole
// twentieth rounded up would make the window up to 19 ns longer than d.
func (w *window) epoch(elapsed time.Duration) int64 {
	hi, lo := bits.Mul64(uint64(max(elapsed, 0)), numBuckets)
	e, _ := bits.Div64(hi, lo, w.d)
	return int64(e)
}

// add counts one request at epoch e, and one accept when accepted. A request from an epoch
// older than the newest seen (a caller that read the clock earlier than another) counts in the
// newest bucket.
func (w *window) add(e int64, accepted bool) {
	w.mu.Lock()
	w.advanceLocked(e)
	b := &w.buckets[w.head%numBuckets]
	b.requests++
	w.requests++
	if accepted {
		b.accepts++
		w.accepts++
	}
	w.mu.Unlock()
}

// counts returns the requests and accepts of the window that ends with epoch e.
func (w *window) counts(e int64) (requests, accepts int64) {
	w.mu.Lock()
	w.advanceLocked(e)
	requests, accepts = w.requests, w.accepts
	w.mu.Unlock()
	return requests, accepts
}

// advanceLocked moves the window's end to epoch e, expiring the buckets it leaves behind. An
// epoch at or before head changes nothing.
func (w *window) advanceLocked(e int64) {
	w.head = buckets.Expire(w.head, e, numBuckets, func(i int) {
		b := &w.buckets[i]
		w.requests -= b.requests
		w.accepts -= b.accepts
		*b = bucket{}
	})
}

// reset forgets every count. It keeps head, which only moves forward.
func (w *window) reset() {
	w.mu.Lock()
	w.buckets = [numBuckets]bucket{}
	w.requests, w.accepts = 0, 0
	w.mu.Unlock()
}
