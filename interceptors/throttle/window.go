package throttle

import (
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
// width-long stretch of time since the throttle's origin. It keeps running totals, so reading
// it costs no scan, and expires buckets lazily as the clock moves. It is safe for concurrent
// use (a short mutex: measured against a lock-free window of per-bucket atomic words, it was
// faster serially and under contention, see BenchmarkAllowRecord) and never allocates after
// newWindow.
type window struct {
	width int64 // Nanoseconds per epoch.

	mu                sync.Mutex
	head              int64              // Guarded by mu: the newest epoch seen.
	buckets           [numBuckets]bucket // Guarded by mu: indexed by epoch % numBuckets.
	requests, accepts int64              // Guarded by mu: the totals of buckets.
}

func newWindow(d time.Duration) *window {
	return &window{width: max((int64(d)+numBuckets-1)/numBuckets, 1)}
}

// epoch returns the epoch of elapsed time since the origin. A clock that reads before the
// origin is read as the origin.
func (w *window) epoch(elapsed time.Duration) int64 { return max(int64(elapsed), 0) / w.width }

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
