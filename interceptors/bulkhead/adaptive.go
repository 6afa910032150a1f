package bulkhead

import (
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
)

// adaptive is the state of a bulkhead in adaptive mode: a count of permits in flight bounded
// by a limit that moves, and a FIFO queue of waiters, all under one mutex: unlike fixed's
// count, the limit moves with the samples that releases bring.
//
// Invariant (under mu): a waiter is queued only while inFlight >= limit. Whatever lowers
// inFlight or raises limit calls grantLocked, which admits waiters from the head.
type adaptive struct {
	mu       sync.Mutex
	inFlight int
	limit    int       // the admission limit: alg.current()
	changed  time.Time // when limit last changed
	lowered  time.Time // when limit last fell
	alg      *limit
	q        queue
}

// waiter is one Acquire parked on a full bulkhead.
type waiter struct {
	ready      chan struct{} // closed when the waiter is granted a permit
	granted    bool          // guarded by the queue owner's mutex
	prev, next *waiter       // guarded by the queue owner's mutex
}

// grant tells w that it holds a permit.
func (w *waiter) grant() {
	w.granted = true
	close(w.ready)
}

// queue is a FIFO queue of waiters, guarded by its owner's mutex.
type queue struct{ head, tail *waiter }

func (q *queue) push(w *waiter) {
	w.prev = q.tail
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
}

func (q *queue) unlink(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next = nil, nil
}

func newAdaptive(a Adaptive, ceiling int) *adaptive {
	l := newLimit(a, ceiling)
	return &adaptive{alg: l, limit: l.current()}
}

// tryAcquireLocked takes a permit if one is free and nobody waits for one.
func (a *adaptive) tryAcquireLocked() bool {
	if a.q.head == nil && a.inFlight < a.limit {
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
	a.q.push(w)
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
	a.q.unlink(w)
	return false
}

// grantLocked admits waiters, oldest first, while permits are free.
func (a *adaptive) grantLocked() {
	for a.q.head != nil && a.inFlight < a.limit {
		w := a.q.head
		a.q.unlink(w)
		a.inFlight++
		w.grant()
	}
}

// release gives back a permit and feeds the limit the sample, if any: a call that ended at
// now after latency. A call that started before the limit last changed is no sample: it
// measured the limit before, and letting it count again would move the limit twice for one
// cause (every call queued behind a too-high limit would back it off once more). A sign of
// overload (see limit.overload) only looks back to the limit's last fall: a rise since does
// not answer it, and letting every rise void it would let quick calls that move the limit up
// every millisecond (another method sharing the bulkhead) void every overload failure of the
// slower calls, and the limit would climb to the ceiling over a service that sheds them.
// release returns the limit before and after, and false if no permit was held.
func (a *adaptive) release(kind sampleKind, latency time.Duration, now time.Time) (before, after int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight == 0 {
		return 0, 0, false
	}
	n := a.inFlight
	a.inFlight--
	before = a.limit
	switch kind {
	case sampleTransient:
		kind = a.alg.transient(latency)
	case sampleFault:
		kind = a.alg.fault(latency)
	}
	if kind != sampleNone {
		since := a.changed
		if a.alg.overload(kind, latency) {
			since = a.lowered
		}
		if !now.Add(-latency).Before(since) {
			a.alg.sample(kind, latency, n)
			if a.limit = a.alg.current(); a.limit != before {
				a.changed = now
				if a.limit < before {
					a.lowered = now
				}
			}
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

// classify turns the outcome of a call into a sample kind, as cl classifies it. A business
// error is no sample: the server may refuse a request in a millisecond, before the work the
// method does (an unreadable image refused before the GPU runs), and such answers, counted,
// grew the limit and dragged the gradient's baseline down to their latency, hiding the queue
// of the calls that do the work (TestFastBusinessErrorsAreNoSamples). Nor is a server fault
// faster than a healthy answer (see limit.fault): a broken service may fail every call in a
// millisecond, and such failures, counted as answers, looked like a service without a queue
// and took the limit to the ceiling over it (TestFastFaultsRaiseNoLimit); a slower one (a
// worker's own timeout under its queue, answered Internal) is a drop
// (TestSlowServerFaultsLowerTheLimit). A throttled outcome (the server sheds load) is a drop. A
// transient one (Unavailable, ...) is judged by its latency when the call releases its slot
// (see limit.transient): a random fault at the service's normal latency is no sign of a queue,
// and counted, 20 % of them held the limit near 8 of a 100-slot ceiling
// (TestRandomFastFaultsKeepTheLimit).
func classify(err error, cl *codes.Classifier) sampleKind {
	c := cl.Classify(err).Class
	switch {
	case c.Ignored() || c == codes.Business:
		return sampleNone
	case c == codes.Transient:
		return sampleTransient
	case c == codes.ServerFault:
		return sampleFault
	case c == codes.Throttled:
		return sampleDrop
	default:
		return sampleOK
	}
}

// classifyHeld is classify for a call of method that holds a slot: if the classifier cl panics
// (an error whose GRPCStatus panics), the slot goes back with no sample before the panic goes
// on, so that no path leaks it.
func (b *Bulkhead) classifyHeld(method string, err error, cl *codes.Classifier) sampleKind {
	classified := false
	defer func() {
		if !classified {
			b.finish(method, sampleNone, 0, time.Time{})
		}
	}()
	kind := classify(err, cl)
	classified = true
	return kind
}

// finish gives back an adaptive permit with a sample of a call of method (the bulkhead's own
// for "": Release and ReleaseWith know no call) that ended at now, and emits LimitChanged if
// the limit moved. now is only read with a sample.
func (b *Bulkhead) finish(method string, kind sampleKind, latency time.Duration, now time.Time) {
	before, after, ok := b.ad.release(kind, latency, now)
	if !ok {
		panic("bulkhead: Release of " + b.name + " without a slot held")
	}
	if before != after && b.sink != nil {
		if method == "" {
			method = b.method
		}
		b.sink.Observe(observe.Event{
			Kind:     observe.LimitChanged,
			Time:     now,
			Service:  b.service,
			Method:   method,
			Policy:   observe.PolicyBulkhead,
			Reason:   string(b.ad.alg.algorithm),
			Duration: latency,
			Value:    float64(after),
		})
	}
}
