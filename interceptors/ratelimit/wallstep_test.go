package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// steppedClock reads as the system clock does, a wall reading and a monotonic one, standing
// still but for Step, which moves the wall reading alone, as an NTP correction steps the
// system clock. Its timers fire at once and are counted: a test sees whether a take waited
// without waiting.
type steppedClock struct {
	mu     sync.Mutex
	base   time.Time     // a time.Now reading: it carries a monotonic reading
	wall   time.Duration // the wall reading's steps
	timers int
}

func newSteppedClock() *steppedClock { return &steppedClock{base: time.Now()} }

func (c *steppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return shiftWall(c.base, c.wall)
}

func (c *steppedClock) Step(d time.Duration) { c.mu.Lock(); c.wall += d; c.mu.Unlock() }

func (c *steppedClock) Timers() int { c.mu.Lock(); defer c.mu.Unlock(); return c.timers }

func (c *steppedClock) NewTimer(time.Duration) clock.Timer {
	c.mu.Lock()
	c.timers++
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return firedTimer{ch}
}

func (c *steppedClock) AfterFunc(time.Duration, func()) clock.Timer {
	panic("steppedClock: AfterFunc is not used by a Local")
}

type firedTimer struct{ ch chan time.Time }

func (t firedTimer) C() <-chan time.Time    { return t.ch }
func (firedTimer) Stop() bool               { return false }
func (firedTimer) Reset(time.Duration) bool { return false }

// shiftWall returns t, which carries a monotonic reading, with its wall reading moved by d
// (whole seconds) and its monotonic reading kept: what time.Now returns after the system clock
// was stepped by d. The time package cannot build such a reading, so this edits the seconds
// field of the wall word (bits 30 to 62 when the monotonic bit, 63, is set).
func shiftWall(t time.Time, d time.Duration) time.Time {
	type rep struct {
		wall uint64
		ext  int64
		loc  *time.Location
	}
	const hasMonotonic = 1 << 63
	r := (*rep)(unsafe.Pointer(&t))
	if r.wall&hasMonotonic == 0 || d%time.Second != 0 {
		panic("shiftWall: a reading without a monotonic clock, or a step that is not whole seconds")
	}
	r.wall += uint64(int64(d/time.Second)) << 30
	return t
}

// deadlineCtx reports a deadline it never enforces: the take under test answers before it.
type deadlineCtx struct {
	context.Context
	dl time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.dl, true }

// A caller's deadline without a monotonic reading (time.Unix, a deadline gone through Round(0)
// or a protobuf Timestamp) is a wall time, which the context package times against the wall
// clock now. The bucket compared it with its base's wall reading moved by the monotonic time
// since: off by every step of the system's clock since the bucket was made. Stepped forward
// an hour, a wait of 1s was taken for a deadline 500ms away (the call would then fail with
// DeadlineExceeded); stepped back an hour, a wait of 1s was refused for a deadline 2s away.
func TestWaitHonoursAWallDeadlineAfterAClockStep(t *testing.T) {
	for _, tt := range []struct {
		name      string
		step      time.Duration
		left      time.Duration // from now to the deadline, on the stepped wall clock
		wantWait  bool
		wantAfter time.Duration
	}{
		{name: "stepped forward, the token after the deadline", step: time.Hour, left: 500 * time.Millisecond, wantAfter: time.Second},
		{name: "stepped back, the token before the deadline", step: -time.Hour, left: 2 * time.Second, wantWait: true},
		{name: "no step, the token after the deadline", left: 500 * time.Millisecond, wantAfter: time.Second},
		{name: "no step, the token before the deadline", left: 2 * time.Second, wantWait: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newSteppedClock()
			// The readings the test builds are what it means them to be.
			if a, b := c.Now(), shiftWall(c.Now(), -time.Hour); b.Sub(a) != 0 || a.UnixNano()-b.UnixNano() != int64(time.Hour) {
				t.Fatalf("shiftWall: Sub %v, wall difference %v; want 0 and 1h", b.Sub(a), time.Duration(a.UnixNano()-b.UnixNano()))
			}
			l := ratelimit.NewLocal(1, 1, ratelimit.WithClock(c))
			if d, err := l.Take(context.Background(), 0); err != nil || !d.Allowed {
				t.Fatalf("first take = %+v, %v; want the burst's token", d, err)
			}
			c.Step(tt.step)
			ctx := deadlineCtx{context.Background(), c.Now().Add(tt.left).Round(0)}
			d, err := l.Take(ctx, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			waited := c.Timers() == 1
			if waited != tt.wantWait || d.Allowed != tt.wantWait || d.RetryAfter != tt.wantAfter {
				t.Errorf("take with the next token in 1s and the deadline in %v on a wall clock stepped %v = %+v, waited %v; want waited %v, RetryAfter %v",
					tt.left, tt.step, d, waited, tt.wantWait, tt.wantAfter)
			}
		})
	}
}
