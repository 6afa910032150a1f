// Package clocktest provides a fake clock.Clock whose time moves only when a test says so.
package clocktest

import (
	"sort"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
)

// Fake is a clock.Clock that moves only on Advance or Set. Timers fire, in deadline order, when
// the fake time reaches them. Fake is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer // Guarded by mu: active timers.
	waiters []waiter     // Guarded by mu: BlockUntil calls waiting for timers.
}

type waiter struct {
	n  int
	ch chan struct{}
}

// New returns a fake clock set to start. A zero start means 2026-01-01T00:00:00Z.
func New(start time.Time) *Fake {
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &Fake{now: start}
}

var _ clock.Clock = (*Fake)(nil)

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Since returns the fake time elapsed since t.
func (f *Fake) Since(t time.Time) time.Duration { return f.Now().Sub(t) }

// NewTimer returns a timer that fires when the fake time reaches Now()+d.
//
// Its channel is buffered (capacity 1), as time.Timer's was before Go 1.23: the fired value
// waits in it, so that a test may receive it with a select's default case once Advance returns,
// and len(C()) is 1 until it is received. A time.Timer's channel, since Go 1.23, reports len and
// cap 0 always: code under test must not read len of a timer's channel. As with time.Timer since
// Go 1.23, Stop and Reset drain a value not received: none is received after them.
func (f *Fake) NewTimer(d time.Duration) clock.Timer {
	t := &fakeTimer{f: f, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// AfterFunc calls fn in its own goroutine when the fake time reaches Now()+d. Advance and Set
// do not wait for fn: they may have moved the time on, to their target, before fn runs, so a
// timer fn sets counts from that later time and fires at the earliest in a later Advance (with
// the real clock it would count from fn's own time). A test of a chain of timers set from
// callbacks advances one step at a time, with BlockUntil before each Advance (or with
// AdvanceWhenWaiting).
func (f *Fake) AfterFunc(d time.Duration, fn func()) clock.Timer {
	t := &fakeTimer{f: f, fn: fn}
	t.Reset(d)
	return t
}

// SyncAfterFunc is AfterFunc, except that fn runs in the call that fires the timer (Advance,
// Set, AdvanceWhenWaiting, or a Reset to d ≤ 0), in deadline order with the other timers, and
// that call returns only after fn did. fn must not block; it may call the clock, but a time it
// moves on there counts from the firing timer's deadline. clock.WithDeadline uses it so that a
// test may read a deadline context's Err, and its children's, once Advance returns.
func (f *Fake) SyncAfterFunc(d time.Duration, fn func()) clock.Timer {
	t := &fakeTimer{f: f, fn: fn, sync: true}
	t.Reset(d)
	return t
}

// Advance moves the fake time forward by d and fires every timer due by then, earliest first:
// every timer set before Advance was called, or set while it runs from the time it has reached
// (see AfterFunc for those that callbacks set). A d ≤ 0 leaves the time as it is.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.setLocked(f.now.Add(d))
}

// Set moves the fake time to t (never backwards) and fires every timer due by then.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	if t.Before(f.now) {
		f.mu.Unlock()
		return
	}
	f.setLocked(t)
}

// setLocked fires due timers in deadline order, moving the time to each deadline in turn, then
// to target. It unlocks f.mu.
func (f *Fake) setLocked(target time.Time) {
	for {
		sort.Slice(f.timers, func(i, j int) bool { return f.timers[i].when.Before(f.timers[j].when) })
		if len(f.timers) == 0 || f.timers[0].when.After(target) {
			break
		}
		t := f.timers[0]
		f.timers = f.timers[1:]
		if t.when.After(f.now) {
			f.now = t.when
		}
		t.active = false
		t.fireLocked(f.now) // under f.mu: a Stop or Reset that follows finds the value to drain
		f.mu.Unlock()       // between two timers, let in whom the last one woke
		if t.sync {
			t.fn()
		}
		f.mu.Lock()
	}
	if target.After(f.now) {
		f.now = target
	}
	f.mu.Unlock()
}

// Timers returns how many timers are waiting to fire.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// BlockUntil returns once at least n timers are waiting to fire: the way a test knows that the
// code under test has started its sleep before it calls Advance.
func (f *Fake) BlockUntil(n int) {
	f.mu.Lock()
	if len(f.timers) >= n {
		f.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	f.waiters = append(f.waiters, waiter{n: n, ch: ch})
	f.mu.Unlock()
	<-ch
}

// AdvanceWhenWaiting waits until at least one timer is waiting, then advances the time to the
// earliest timer's deadline, firing it. It returns how far the time moved.
func (f *Fake) AdvanceWhenWaiting() time.Duration {
	f.mu.Lock()
	for len(f.timers) == 0 { // none yet, or the one BlockUntil saw was stopped since
		f.mu.Unlock()
		f.BlockUntil(1)
		f.mu.Lock()
	}
	earliest := f.timers[0].when
	for _, t := range f.timers[1:] {
		if t.when.Before(earliest) {
			earliest = t.when
		}
	}
	d := earliest.Sub(f.now)
	if d < 0 {
		d = 0
	}
	f.setLocked(f.now.Add(d))
	return d
}

func (f *Fake) notifyLocked() {
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if len(f.timers) >= w.n {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
	}
	f.waiters = kept
}

type fakeTimer struct {
	f      *Fake
	ch     chan time.Time
	fn     func()
	sync   bool      // fn runs in the goroutine that fires the timer (SyncAfterFunc).
	when   time.Time // Guarded by f.mu.
	active bool      // Guarded by f.mu.
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

// fireLocked sends now on t's channel or starts its func; a sync func is the caller's to run,
// once it has unlocked f.mu.
func (t *fakeTimer) fireLocked(now time.Time) {
	if t.sync {
		return
	}
	if t.fn != nil {
		go t.fn()
		return
	}
	select {
	case t.ch <- now:
	default:
	}
}

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.removeLocked()
}

// removeLocked stops t and reports whether it was active. As with time.Timer since Go 1.23, a
// timer that fired but whose value was not received counts as active, and its value is drained:
// none is received after Stop or Reset.
func (t *fakeTimer) removeLocked() bool {
	if !t.active {
		if t.ch != nil {
			select {
			case <-t.ch:
				return true
			default:
			}
		}
		return false
	}
	t.active = false
	for i, x := range t.f.timers {
		if x == t {
			t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
			break
		}
	}
	return true
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.f
	f.mu.Lock()
	was := t.removeLocked() // drains a value not received: none is received after Reset
	t.when = f.now.Add(d)
	if d <= 0 { // fires at once: never among the waiting timers BlockUntil counts
		t.when = f.now
		t.fireLocked(f.now)
		f.mu.Unlock()
		if t.sync {
			t.fn()
		}
		return was
	}
	t.active = true
	f.timers = append(f.timers, t)
	f.notifyLocked()
	f.mu.Unlock()
	return was
}
