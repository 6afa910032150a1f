package bulkhead

import (
	"sync"
	"sync/atomic"
)

// fixed is the state of a bulkhead with a fixed limit: a count of slots taken and a FIFO queue
// of waiters. A call that finds a slot free and nobody waiting takes it with one
// compare-and-swap and gives it back with one add, without the lock; waiters queue under
// the lock and a freed slot goes to the oldest of them.
//
// A release lowers taken, then looks at waiting; a waiter raises waiting, then (under mu) looks
// at taken. Whichever comes second sees the other, so a slot freed while a waiter queues is
// granted to it, by the release or by the waiter itself.
type fixed struct {
	taken   atomic.Int64 // slots held, those granted to waiters included
	waiting atomic.Int64 // waiters queued: while not 0, a free slot goes to the queue's head
	limit   int64
	mu      sync.Mutex
	q       queue // Guarded by mu.
}

func newFixed(limit int) *fixed { return &fixed{limit: int64(limit)} }

// tryAcquire takes a slot if one is free and nobody waits for one.
func (f *fixed) tryAcquire() bool {
	if f.waiting.Load() != 0 {
		return false
	}
	return f.take()
}

// take takes a slot if one is free.
func (f *fixed) take() bool {
	for {
		n := f.taken.Load()
		if n >= f.limit {
			return false
		}
		if f.taken.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// enqueue queues w and grants it a slot at once if one is free and it is first; it reports
// whether w was granted one (the caller then holds it).
func (f *fixed) enqueue(w *waiter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiting.Add(1)
	f.q.push(w)
	f.grantLocked()
	return w.granted
}

// abandon takes w off the queue and reports whether it had been granted a slot meanwhile
// (which the caller then holds).
func (f *fixed) abandon(w *waiter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.granted {
		return true
	}
	f.q.unlink(w)
	f.waiting.Add(-1)
	return false
}

// release gives back a slot; false if none was held.
func (f *fixed) release() bool {
	if f.taken.Add(-1) < 0 {
		f.taken.Add(1)
		return false
	}
	if f.waiting.Load() != 0 {
		f.mu.Lock()
		f.grantLocked()
		f.mu.Unlock()
	}
	return true
}

// grantLocked grants slots to waiters, oldest first, while slots are free.
func (f *fixed) grantLocked() {
	for f.q.head != nil && f.take() {
		w := f.q.head
		f.q.unlink(w)
		f.waiting.Add(-1)
		w.grant()
	}
}

// state returns the limit and the slots taken.
func (f *fixed) state() (limit, taken int) {
	return int(f.limit), max(int(f.taken.Load()), 0)
}
