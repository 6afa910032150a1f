package bulkhead

import (
	"context"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
)

// adaptive is the state of a bulkhead in adaptive mode: a count of permits in flight bounded
// by a limit that moves, and a FIFO queue of waiters. A channel of fixed capacity cannot
// shrink or grow, hence a mutex and a queue of our own.
//
// Invariant (under mu): a waiter is queued only while inFlight >= limit. Whatever lowers
// inFlight or raises limit calls grantLocked, which admits waiters from the head.
type adaptive struct {
	mu         sync.Mutex
	inFlight   int
	limit      int       // the admission limit: alg.current()
	changed    time.Time // when limit last changed
	alg        *limit
	head, tail *waiter
}

// waiter is one Acquire parked on a full adaptive bulkhead.
type waiter struct {
	ready      chan struct{} // closed when the waiter is granted a permit
	granted    bool          // guarded by adaptive.mu
	prev, next *waiter       // guarded by adaptive.mu
}

func newAdaptive(a Adaptive, ceiling int) *adaptive {
	l := newLimit(a, ceiling)
	return &adaptive{alg: l, limit: l.current()}
}

// tryAcquireLocked takes a permit if one is free and nobody waits for one.
func (a *adaptive) tryAcquireLocked() bool {
	if a.head == nil && a.inFlight < a.limit {
		a.inFlight++
		return true
	}
	return false
}

func (a *adaptive) tryAcquire() bool {
	a.mu.Lock()
	ok := a.tryAcquireLocked()
	a.mu.Unlock()
	return ok
}

// enqueue takes a permit if one is free now, else queues w; it reports whether it took one.
func (a *adaptive) enqueue(w *waiter) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tryAcquireLocked() {
		return true
	}
	w.prev = a.tail
	if a.tail != nil {
		a.tail.next = w
	} else {
		a.head = w
	}
	a.tail = w
	return false
}

// abandon takes w off the queue and reports whether it had been granted a permit meanwhile
// (which the caller then holds).
func (a *adaptive) abandon(w *waiter) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.granted {
		return true
	}
	a.unlinkLocked(w)
	return false
}

func (a *adaptive) unlinkLocked(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		a.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		a.tail = w.prev
	}
	w.prev, w.next = nil, nil
}

// grantLocked admits waiters, oldest first, while permits are free.
func (a *adaptive) grantLocked() {
	for a.head != nil && a.inFlight < a.limit {
		w := a.head
		a.unlinkLocked(w)
		a.inFlight++
		w.granted = true
		close(w.ready)
	}
}

// release gives back a permit and feeds the limit the sample, if any: a call that ended at
// now after latency. A call that started before the limit last changed is no sample: it
// measured the limit before, and letting it count again would move the limit twice for one
// cause (every call queued behind a too-high limit would back it off once more). release
// returns the limit before and after, and false if no permit was held.
func (a *adaptive) release(kind sampleKind, latency time.Duration, now time.Time) (before, after int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight == 0 {
		return 0, 0, false
	}
	n := a.inFlight
	a.inFlight--
	before = a.limit
	if kind != sampleNone && !now.Add(-latency).Before(a.changed) {
		a.alg.sample(kind, latency, n)
		if a.limit = a.alg.current(); a.limit != before {
			a.changed = now
		}
	}
	a.grantLocked()
	return before, a.limit, true
}

func (a *adaptive) state() (limit, inFlight int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limit, a.inFlight
}

// acquireAdaptive is acquire in adaptive mode.
func (b *Bulkhead) acquireAdaptive(ctx context.Context, method string, maxWait time.Duration) error {
	a := b.ad
	if a.tryAcquire() {
		return nil
	}
	wait := b.waitFor(ctx, maxWait)
	if wait <= 0 {
		return b.reject(method)
	}
	w := &waiter{ready: make(chan struct{})}
	if a.enqueue(w) {
		return nil
	}
	t := b.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return nil
	case <-t.C():
		if a.abandon(w) {
			return nil // admitted as the wait ran out
		}
		return b.reject(method)
	case <-ctx.Done():
		if a.abandon(w) {
			// Admitted as the context ended: the caller cannot use the permit.
			b.finish("", sampleNone, 0, time.Time{})
		}
		return b.ended(ctx, method)
	}
}

// classify turns the outcome of a call into a sample kind.
func (b *Bulkhead) classify(err error) sampleKind {
	c := b.classifier.Classify(err).Class
	switch {
	case c.Ignored():
		return sampleNone
	case c.Retryable():
		return sampleDrop
	default:
		return sampleOK
	}
}

// finish gives back an adaptive permit with a sample of a call that ended at now, and emits
// LimitChanged if the limit moved. now is only read with a sample.
func (b *Bulkhead) finish(method string, kind sampleKind, latency time.Duration, now time.Time) {
	before, after, ok := b.ad.release(kind, latency, now)
	if !ok {
		panic("bulkhead: Release of " + b.name + " without a slot held")
	}
	if before != after && b.sink != nil {
		b.sink.Observe(observe.Event{
			Kind:     observe.LimitChanged,
			Time:     now,
			Service:  b.name,
			Method:   method,
			Policy:   observe.PolicyBulkhead,
			Reason:   string(b.ad.alg.algorithm),
			Duration: latency,
			Value:    float64(after),
		})
	}
}
