package clocktest

import (
	"runtime"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitersLen returns how many BlockUntil calls wait.
func (f *Fake) waitersLen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// waitFor spins until cond holds, and fails t with what when it has not within within.Bound:
// the tests below wait so for a BlockUntil to start waiting, which a broken one may never do.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within.Bound); !cond(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("%s within %v", what, within.Bound)
		}
	}
}

// Regression: a timer of zero or negative duration, which fires at once, was counted among the
// waiting timers for a moment, and released a BlockUntil that no waiting timer satisfied.
func TestFakeBlockUntilDoesNotCountATimerThatFiredAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(f *Fake) func() bool // makes a timer of no duration; returns its Stop
	}{
		{"NewTimer(0)", func(f *Fake) func() bool { return f.NewTimer(0).Stop }},
		{"NewTimer(-1s)", func(f *Fake) func() bool { return f.NewTimer(-time.Second).Stop }},
		{"AfterFunc(0)", func(f *Fake) func() bool { return f.AfterFunc(0, func() {}).Stop }},
		{"SyncAfterFunc(0)", func(f *Fake) func() bool { return f.SyncAfterFunc(0, func() {}).Stop }},
		{"Reset(0)", func(f *Fake) func() bool {
			tm := f.NewTimer(0)
			within.Recv(t, tm.C(), "NewTimer(0) did not fire")
			tm.Reset(0)
			return tm.Stop
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New(time.Time{})
			released := make(chan struct{})
			go func() {
				defer close(released)
				f.BlockUntil(1)
			}()
			// BlockUntil found no timer and waits.
			waitFor(t, "BlockUntil(1) did not start waiting", func() bool { return f.waitersLen() > 0 })
			stop := tc.make(f)
			select {
			case <-released:
				t.Fatal("BlockUntil(1) returned for a timer that fired at once")
			default:
			}
			if n := f.waitersLen(); n != 1 {
				t.Fatalf("waiting BlockUntil calls = %d, want 1", n)
			}
			if n := f.Timers(); n != 0 {
				t.Fatalf("Timers = %d, want 0", n)
			}
			stop()
			f.NewTimer(time.Hour).Stop() // releases the BlockUntil
			within.Recv(t, released, "BlockUntil(1) did not return once a 1h timer was set")
		})
	}
}

// A zero start is the documented 2026-01-01T00:00:00Z.
func TestFakeZeroStart(t *testing.T) {
	want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := New(time.Time{}).Now(); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("New(zero).Now() = %v, want %v", got, want)
	}
	start := time.Date(2030, 5, 6, 7, 8, 9, 10, time.UTC)
	if got := New(start).Now(); !got.Equal(start) {
		t.Fatalf("New(%v).Now() = %v", start, got)
	}
}

// Advance of d ≤ 0 and Set to an earlier time leave the time as it is, and fire nothing.
func TestFakeTimeNeverMovesBack(t *testing.T) {
	f := New(time.Time{})
	start := f.Now()
	tm := f.NewTimer(time.Second)
	f.Advance(-time.Hour)
	if got := f.Now(); !got.Equal(start) {
		t.Fatalf("after Advance(-1h) Now = %v, want %v", got, start)
	}
	f.Advance(0)
	f.Set(start.Add(-time.Minute))
	if got := f.Now(); !got.Equal(start) {
		t.Fatalf("after Advance(0) and Set(-1m) Now = %v, want %v", got, start)
	}
	select {
	case <-tm.C():
		t.Fatal("a 1s timer fired with no time gone by")
	default:
	}
	f.Advance(time.Second)
	select {
	case at := <-tm.C():
		if !at.Equal(start.Add(time.Second)) {
			t.Fatalf("fired at %v, want %v", at, start.Add(time.Second))
		}
	default:
		t.Fatal("the 1s timer did not fire after 1s")
	}
}

// BlockUntil(n) returns at once when exactly n timers wait.
func TestFakeBlockUntilReturnsAtExactlyN(t *testing.T) {
	f := New(time.Time{})
	t1, t2 := f.NewTimer(time.Second), f.NewTimer(2*time.Second)
	defer t1.Stop()
	defer t2.Stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.BlockUntil(2)
	}()
	waitFor(t, "BlockUntil(2) with 2 timers waiting neither returned nor waited", func() bool {
		select {
		case <-done:
			return true
		default:
			return f.waitersLen() > 0
		}
	})
	select {
	case <-done:
	default: // it waits
		f.NewTimer(time.Hour).Stop() // releases it, so it does not leak
		within.Recv(t, done, "BlockUntil(2) did not return once a third timer was set")
		t.Fatal("BlockUntil(2) waited with 2 timers waiting")
	}
}

// AdvanceWhenWaiting moves to the earliest deadline, whichever timer was set first.
func TestFakeAdvanceWhenWaitingGoesToTheEarliest(t *testing.T) {
	f := New(time.Time{})
	late := f.NewTimer(time.Hour)
	defer late.Stop()
	early := f.NewTimer(time.Second)
	if d := f.AdvanceWhenWaiting(); d != time.Second {
		t.Fatalf("AdvanceWhenWaiting = %v, want 1s", d)
	}
	select {
	case <-early.C():
	default:
		t.Fatal("the 1s timer did not fire")
	}
	select {
	case <-late.C():
		t.Fatal("the 1h timer fired")
	default:
	}
	if n := f.Timers(); n != 1 {
		t.Fatalf("Timers = %d, want 1", n)
	}
}

// Stop of a waiting timer reports true once: a second Stop, and a Reset after it, report false.
func TestFakeStopTwice(t *testing.T) {
	f := New(time.Time{})
	for _, name := range []string{"NewTimer", "AfterFunc"} {
		var tm interface {
			Stop() bool
			Reset(time.Duration) bool
		}
		if name == "NewTimer" {
			tm = f.NewTimer(time.Second)
		} else {
			tm = f.AfterFunc(time.Second, func() { t.Errorf("%s: a stopped func ran", name) })
		}
		if !tm.Stop() {
			t.Errorf("%s: first Stop = false, want true", name)
		}
		if tm.Stop() {
			t.Errorf("%s: second Stop = true, want false", name)
		}
		if tm.Reset(time.Second) {
			t.Errorf("%s: Reset after Stop = true, want false", name)
		}
		tm.Stop()
		if n := f.Timers(); n != 0 {
			t.Errorf("%s: Timers = %d, want 0", name, n)
		}
	}
	f.Advance(time.Hour)
}

// SyncAfterFunc's fn runs before the call that fires it returns, a d ≤ 0 included.
func TestFakeSyncAfterFuncRunsInTheFiringCall(t *testing.T) {
	f := New(time.Time{})
	ran := 0
	tm := f.SyncAfterFunc(0, func() { ran++ })
	if ran != 1 {
		t.Fatalf("SyncAfterFunc(0): fn ran %d times on return, want 1", ran)
	}
	tm.Reset(-time.Second)
	if ran != 2 {
		t.Fatalf("Reset(-1s): fn ran %d times in all on return, want 2", ran)
	}
	var at time.Time
	tm = f.SyncAfterFunc(time.Second, func() { ran++; at = f.Now() })
	f.Advance(time.Minute)
	if ran != 3 {
		t.Fatalf("Advance past a SyncAfterFunc: fn ran %d times in all on return, want 3", ran)
	}
	if want := f.Now().Add(-time.Minute + time.Second); !at.Equal(want) {
		t.Fatalf("fn read Now = %v, want its deadline %v", at, want)
	}
	if tm.Stop() {
		t.Fatal("Stop of a fired SyncAfterFunc = true, want false")
	}
}

// An AfterFunc timer has a nil C, as clock.Timer says; a SyncAfterFunc set from a firing
// SyncAfterFunc counts from the firing one's deadline and, when due, fires in the same Advance.
func TestFakeAfterFuncTimers(t *testing.T) {
	f := New(time.Time{})
	start := f.Now()
	if c := f.AfterFunc(time.Second, func() {}).C(); c != nil {
		t.Errorf("AfterFunc's C() = %v, want nil", c)
	}
	if c := f.SyncAfterFunc(time.Second, func() {}).C(); c != nil {
		t.Errorf("SyncAfterFunc's C() = %v, want nil", c)
	}
	f.Advance(time.Second) // the AfterFunc's fn runs in its own goroutine: one that returns at once
	var at time.Time
	f.SyncAfterFunc(time.Second, func() {
		f.SyncAfterFunc(time.Second, func() { at = f.Now() })
	})
	f.Advance(5 * time.Second)
	if want := start.Add(3 * time.Second); !at.Equal(want) {
		t.Fatalf("the chained fn read Now = %v, want %v", at, want)
	}
	if n := f.Timers(); n != 0 {
		t.Fatalf("Timers = %d, want 0", n)
	}
}
