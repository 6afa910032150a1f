package breaker

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/observe"
)

// panicOnceClock is a fake clock whose next reading of Now panics once armed, as a Clock of
// the program's with a bug does.
type panicOnceClock struct {
	*clocktest.Fake
	armed atomic.Bool
}

func (c *panicOnceClock) Now() time.Time {
	if c.armed.CompareAndSwap(true, false) {
		panic("clock")
	}
	return c.Fake.Now()
}

// A Clock that panics while the breaker reads it under its lock (an open breaker's Allow, a
// trip, a probe's failure) lets the lock go as the panic passes: the breaker still answers
// State and admits calls. It stayed locked, and every later call of its service, and every
// reading of its levels (a scrape), hung for good.
func TestPanickingClockLetsTheBreakersLockGo(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		// setup readies the breaker; the clock panics at its next reading in run.
		setup func(t *testing.T, b *Breaker, clk *panicOnceClock)
		run   func(b *Breaker)
	}{
		{
			name:  "a trip from closed",
			setup: func(*testing.T, *Breaker, *panicOnceClock) {},
			run:   func(b *Breaker) { _ = b.Execute(func() error { return boom }) },
		},
		{
			name:  "an open breaker's Allow",
			setup: func(_ *testing.T, b *Breaker, _ *panicOnceClock) { _ = b.Execute(func() error { return boom }) },
			run:   func(b *Breaker) { _, _ = b.Allow() },
		},
		{
			name: "a probe's failure",
			setup: func(t *testing.T, b *Breaker, clk *panicOnceClock) {
				_ = b.Execute(func() error { return boom })
				clk.Advance(time.Minute)
			},
			run: func(b *Breaker) {
				_ = b.Execute(func() error {
					b.clock.(*panicOnceClock).armed.Store(true)
					return boom
				})
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &panicOnceClock{Fake: clocktest.New(time.Now())}
			b, err := New("svc", Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Second, HalfOpenMaxCalls: 1, SuccessThreshold: 1}, WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			tc.setup(t, b, clk)
			if tc.name != "a probe's failure" {
				clk.armed.Store(true)
			}
			func() {
				defer func() {
					if p := recover(); p != "clock" {
						t.Fatalf("recovered %v, want the clock's panic", p)
					}
				}()
				tc.run(b)
			}()
			clk.Advance(time.Hour) // an open breaker half-opens
			done := make(chan error, 1)
			go func() {
				_ = b.State()
				done <- b.Execute(func() error { return nil })
			}()
			select {
			case err := <-done:
				if err != nil || b.State() != Closed {
					t.Fatalf("the next call returned %v, breaker %v; want nil, closed", err, b.State())
				}
			case <-time.After(10 * time.Second): // a failure guard only: the call returns at once
				t.Fatal("the breaker's lock is still held after its clock panicked: State and Allow hang")
			}
		})
	}
}

// A state change made by hand (ForceOpen, Disable, Reset) reads its time before it changes the
// state: a Clock that panics there leaves the breaker as it was. The state changed first, and
// the panic left a forced-open breaker whose observer never heard of the change.
func TestPanickingClockLeavesAHandChangeUnmade(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(b *Breaker)
		want State
	}{
		{"ForceOpen", (*Breaker).ForceOpen, ForcedOpen},
		{"Disable", (*Breaker).Disable, Disabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var changes []string
			sink := observe.SinkFunc(func(e observe.Event) {
				if e.Kind == observe.BreakerStateChanged {
					changes = append(changes, e.From+"→"+e.To)
				}
			})
			clk := &panicOnceClock{Fake: clocktest.New(time.Now())}
			b, err := New("svc", Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Second}, WithClock(clk), WithObserver(sink))
			if err != nil {
				t.Fatal(err)
			}
			clk.armed.Store(true)
			func() {
				defer func() {
					if p := recover(); p != "clock" {
						t.Fatalf("recovered %v, want the clock's panic", p)
					}
				}()
				tc.run(b)
			}()
			if got := b.State(); got != Closed || len(changes) != 0 {
				t.Fatalf("after %s's clock panicked: breaker %v, changes %q; want closed, none", tc.name, got, changes)
			}
			tc.run(b)
			if got := b.State(); got != tc.want || len(changes) != 1 {
				t.Fatalf("after %s again: breaker %v, changes %q; want %v, one", tc.name, got, changes, tc.want)
			}
		})
	}
}
