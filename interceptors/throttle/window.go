package throttle

import (
	"sync/atomic"
	"time"
)

// numBuckets is how many buckets the window is cut into: it slides in steps of a twentieth of
// its duration.
const numBuckets = 20

// A counter word packs the epoch it counts for in its high 32 bits and the count in its low 32.
// An epoch is a width-long stretch of time since the throttle's origin. Keeping the epoch next
// to the count lets one atomic operation both read and claim a bucket, so the window needs no
// lock and no rotation step: a word whose epoch has left the window is stale, read as zero, and
// restarted by the next write that lands in its slot.
const (
	epochShift = 32
	countMask  = 1<<epochShift - 1
)

// bucket is one slice of the window.
type bucket struct {
	requests, accepts atomic.Uint64
}

// window counts requests and accepts over the last numBuckets epochs. It is safe for concurrent
// use and never allocates after newWindow.
type window struct {
	width   int64 // Nanoseconds per epoch.
	buckets [numBuckets]bucket
}

func newWindow(d time.Duration) *window {
	return &window{width: max((int64(d)+numBuckets-1)/numBuckets, 1)}
}

// epoch returns the epoch of elapsed time since the origin. A clock that reads before the
// origin is read as the origin.
func (w *window) epoch(elapsed time.Duration) uint32 {
	return uint32(max(int64(elapsed), 0) / w.width)
}

// add counts one request at epoch e, and one accept when accepted.
func (w *window) add(e uint32, accepted bool) {
	b := &w.buckets[e%numBuckets]
	bump(&b.requests, e)
	if accepted {
		bump(&b.accepts, e)
	}
}

// bump adds one to the count of word for epoch e.
func bump(word *atomic.Uint64, e uint32) {
	for {
		old := word.Load()
		// The word counts for e already, or for a later epoch that a writer with a fresher
		// clock reading claimed first: add to it. (Should the slot be claimed for a later
		// epoch between the load and the add, the one count lands in that newer bucket, which
		// is never outside the window when the newer one is not.)
		if we := uint32(old >> epochShift); we == e || int32(we-e) > 0 {
			word.Add(1)
			return
		}
		// The word holds an epoch that has left the window: claim it for e.
		if word.CompareAndSwap(old, uint64(e)<<epochShift|1) {
			return
		}
	}
}

// counts returns the requests and accepts of the window that ends with epoch e.
func (w *window) counts(e uint32) (requests, accepts int64) {
	for i := range w.buckets {
		b := &w.buckets[i]
		requests += live(b.requests.Load(), e)
		accepts += live(b.accepts.Load(), e)
	}
	return requests, accepts
}

// live returns word's count when its epoch is within the numBuckets epochs that end with e (or
// after e, written by a fresher clock reading), else zero.
func live(word uint64, e uint32) int64 {
	if int32(e-uint32(word>>epochShift)) < numBuckets {
		return int64(word & countMask)
	}
	return 0
}

// reset forgets every count.
func (w *window) reset() {
	for i := range w.buckets {
		w.buckets[i].requests.Store(0)
		w.buckets[i].accepts.Store(0)
	}
}
