// Package clock is the time source every bulwark policy takes, so that tests of backoff,
// recovery timeouts and refill rates are exact and instant (see clocktest.Fake).
package clock

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Clock tells the time and makes timers. Implementations are safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine after d, unless the returned timer is stopped.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the part of *time.Timer that policies use.
type Timer interface {
	// C is the channel the timer fires on. It is nil for timers made by AfterFunc. Receive
	// from it; do not read its len or cap, which differ between clocks (see the NewTimer of
	// clocktest.Fake).
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
	// Reset makes the timer fire after d; it reports whether the timer was active.
	Reset(d time.Duration) bool
}

// Real is the system clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return realTimer{time.AfterFunc(d, f)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time        { return t.t.C }
func (t realTimer) Stop() bool                 { return t.t.Stop() }
func (t realTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

// Since returns the time elapsed since t by c. With the real clock and a t that carries a
// monotonic reading (as Now's do) it is time.Since, which reads only the monotonic clock: about
// half the cost of Now, which reads the wall clock too.
func Since(c Clock, t time.Time) time.Duration {
	if c == Real {
		return time.Since(t)
	}
	return c.Now().Sub(t)
}

// Later returns the time now by c, for a reading known to come after t, an earlier reading of
// c (an attempt's end after its start). With the real clock and a t that carries a monotonic
// reading it is t plus time.Since(t), which reads only the monotonic clock: about half the cost
// of Now. Its wall reading is t's moved by the monotonic time elapsed, so a step of the system's
// clock between t and now does not show in it (nor, as ever, in the duration between them).
// Otherwise it is c.Now().
func Later(c Clock, t time.Time) time.Time {
	if _, ok := c.(realClock); ok && t.Round(0) != t {
		return t.Add(time.Since(t))
	}
	return c.Now()
}

// OrReal returns c, or Real when c is nil.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// Same reports whether a and b are one clock: whether a == b, without the panic == gives for
// two clocks of one type == cannot compare (a struct value holding a func, say: nothing in
// Clock's contract asks for ==). Such a clock is the same as no clock, itself included.
func Same(a, b Clock) (same bool) {
	defer func() { _ = recover() }()
	return a == b
}

// WithDeadline returns a copy of parent that is done at d by clock c. With the real clock it is
// context.WithDeadline; with any other clock, the context is done with context.DeadlineExceeded
// once c reaches d, so per-attempt timeouts can be tested under a fake clock. The parent's own
// deadline still applies: the result is done at the earlier of the two.
//
// With a clock that has a SyncAfterFunc method (clocktest.Fake), the move of its time that
// reaches d (Fake's Advance or Set) returns only once the context, and every context derived
// from it with the context package, is done: a test may read Err at once. With other clocks it
// is c's AfterFunc that ends it, in the goroutine c runs its funcs in: wait on Done.
//
// A parent that ends before d stops c's timer, so it does not stay registered until cancel.
func WithDeadline(parent context.Context, c Clock, d time.Time) (context.Context, context.CancelFunc) {
	if c == nil || c == Real {
		return context.WithDeadline(parent, d)
	}
	if pd, ok := parent.Deadline(); ok && !pd.After(d) {
		return context.WithCancel(parent)
	}
	inner, cancel := context.WithCancelCause(parent)
	ctx := &clockContext{parent: parent, inner: inner, cancel: cancel, deadline: d}
	dur := d.Sub(c.Now())
	if dur <= 0 {
		ctx.end(errClockDeadline)
		return ctx, func() { ctx.end(nil) }
	}
	expire := func() {
		ctx.unwatchParent()
		ctx.end(errClockDeadline)
	}
	var t Timer
	if sc, ok := c.(syncAfterFuncer); ok {
		t = sc.SyncAfterFunc(dur, expire)
	} else {
		t = c.AfterFunc(dur, expire)
	}
	// Set after t, which it reads: a parent already done runs it at once.
	unwatch := context.AfterFunc(inner, func() { // the parent ended: the timer has no use left
		t.Stop()
		ctx.runFuncs()
	})
	ctx.mu.Lock()
	ctx.unwatch = unwatch
	ctx.mu.Unlock()
	return ctx, func() {
		ctx.unwatchParent()
		t.Stop()
		ctx.end(nil)
	}
}

// syncAfterFuncer is a Clock that can call a func in the move of its time that reaches the
// func's time, before that move returns, rather than in a goroutine of its own (clocktest.Fake).
// The func WithDeadline hands it is short, does not block and does not call the clock.
type syncAfterFuncer interface {
	SyncAfterFunc(d time.Duration, f func()) Timer
}

// WithTimeout is WithDeadline(parent, c, c.Now().Add(d)).
func WithTimeout(parent context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	c = OrReal(c)
	return WithDeadline(parent, c, c.Now().Add(d))
}

// clockContext is a cancel context whose deadline is kept by a Clock other than the real one.
//
// It does not embed its inner cancel context: Value answers from the parent, so contexts derived
// from a clockContext do not attach to the inner context's cancellation (which would report
// context.Canceled). They attach through its AfterFunc method, which the context package uses
// when a parent has one: end calls their funcs at once, so they are done when it returns, and
// they read Err, which reports context.DeadlineExceeded.
type clockContext struct {
	parent   context.Context
	inner    context.Context
	cancel   context.CancelCauseFunc
	deadline time.Time

	mu    sync.Mutex
	funcs map[*func()]struct{} // Guarded by mu: AfterFunc's funcs not yet called or stopped.
	ended bool                 // Guarded by mu: runFuncs ran; later funcs run at once.
	// unwatch stops the watch of the parent's end (nil until set). Guarded by mu.
	unwatch func() bool
}

// unwatchParent stops the watch of the parent's end, which has no use once c is ended another
// way. A watch not yet set runs, harmlessly: the timer is stopped or spent, the funcs are run.
func (c *clockContext) unwatchParent() {
	c.mu.Lock()
	unwatch := c.unwatch
	c.mu.Unlock()
	if unwatch != nil {
		unwatch()
	}
}

// end cancels c with cause (nil for Canceled) and calls the funcs of its AfterFunc.
func (c *clockContext) end(cause error) {
	c.cancel(cause)
	c.runFuncs()
}

// runFuncs calls, once c is done, the funcs of AfterFunc, in the caller's goroutine.
func (c *clockContext) runFuncs() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	funcs := c.funcs
	c.funcs = nil
	c.mu.Unlock()
	for f := range funcs {
		(*f)()
	}
}

// AfterFunc arranges to call f once c is done, as context.AfterFunc does; the context package
// calls it to attach the contexts derived from c. f runs in the goroutine that ends c (in a
// goroutine of its own when c is already done); stop reports whether it kept f from running.
func (c *clockContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if c.funcs == nil {
		c.funcs = make(map[*func()]struct{})
	}
	key := &f
	c.funcs[key] = struct{}{}
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.funcs[key]
		delete(c.funcs, key)
		return ok
	}
}

func (c *clockContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *clockContext) Done() <-chan struct{} { return c.inner.Done() }

func (c *clockContext) Value(key any) any { return c.parent.Value(key) }

// errClockDeadline is the cause with which a clockContext's inner context is cancelled when the
// clock reaches its deadline. It never leaves the package (Cause of a clockContext answers from
// the parent), so it tells the deadline apart from a parent cancelled with any cause.
var errClockDeadline = errors.New("clock: deadline exceeded")

// Err reports context.DeadlineExceeded when the clock's deadline passed, as context.WithDeadline
// contexts do; otherwise the parent's error or context.Canceled. Whichever came first stays, as
// the Context contract asks: a parent cancelled after the deadline does not change it.
func (c *clockContext) Err() error {
	err := c.inner.Err()
	if err != nil && context.Cause(c.inner) == errClockDeadline {
		return context.DeadlineExceeded
	}
	return err
}
