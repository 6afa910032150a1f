package clock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFakeTimersFireInOrder(t *testing.T) {
	clk := clocktest.New(time.Time{})
	start := clk.Now()
	t1 := clk.NewTimer(3 * time.Second)
	t2 := clk.NewTimer(time.Second)
	if clk.Timers() != 2 {
		t.Fatalf("Timers = %d", clk.Timers())
	}
	clk.Advance(2 * time.Second)
	select {
	case at := <-t2.C():
		if got := at.Sub(start); got != time.Second {
			t.Fatalf("t2 fired at +%v, want +1s", got)
		}
	default:
		t.Fatal("t2 did not fire")
	}
	select {
	case <-t1.C():
		t.Fatal("t1 fired early")
	default:
	}
	if !t1.Reset(500 * time.Millisecond) {
		t.Fatal("Reset of an active timer reported inactive")
	}
	clk.Advance(499 * time.Millisecond)
	select {
	case <-t1.C():
		t.Fatal("t1 fired 1ms early")
	default:
	}
	clk.Advance(time.Millisecond)
	within.Recv(t, t1.C(), "t1 did not fire at 2.5s")
	if t1.Stop() {
		t.Fatal("Stop of a fired timer reported active")
	}
	if got := clk.Since(start); got != 2500*time.Millisecond {
		t.Fatalf("elapsed %v", got)
	}
}

func TestFakeAfterFuncAndBlockUntil(t *testing.T) {
	clk := clocktest.New(time.Time{})
	fired := make(chan struct{})
	go func() {
		clk.AfterFunc(time.Minute, func() { close(fired) })
	}()
	clk.BlockUntil(1)
	if d := clk.AdvanceWhenWaiting(); d != time.Minute {
		t.Fatalf("advanced %v, want 1m", d)
	}
	within.Recv(t, fired, "the AfterFunc did not run")
	stopped := clk.AfterFunc(time.Second, func() { t.Error("stopped AfterFunc ran") })
	if !stopped.Stop() {
		t.Fatal("Stop reported inactive")
	}
	clk.Advance(time.Hour)
}

func TestWithDeadlineFake(t *testing.T) {
	clk := clocktest.New(time.Time{})
	ctx, cancel := clock.WithTimeout(context.Background(), clk, 2*time.Second)
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(clk.Now().Add(2*time.Second)) {
		t.Fatalf("Deadline = %v %v", dl, ok)
	}
	clk.Advance(time.Second)
	if ctx.Err() != nil {
		t.Fatalf("done early: %v", ctx.Err())
	}
	clk.Advance(time.Second)
	within.Recv(t, ctx.Done(), "the 2s deadline context did not end")
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded", ctx.Err())
	}

	// Cancel before the deadline gives Canceled.
	ctx2, cancel2 := clock.WithTimeout(context.Background(), clk, time.Second)
	cancel2()
	if !errors.Is(ctx2.Err(), context.Canceled) {
		t.Fatalf("Err = %v, want Canceled", ctx2.Err())
	}
	// A parent with an earlier deadline keeps it.
	parent, pcancel := clock.WithTimeout(context.Background(), clk, time.Second)
	defer pcancel()
	child, ccancel := clock.WithTimeout(parent, clk, time.Hour)
	defer ccancel()
	if dl, _ := child.Deadline(); !dl.Equal(clk.Now().Add(time.Second)) {
		t.Fatalf("child deadline %v extended the parent's", dl)
	}
	// A deadline already past is done at once.
	past, pastCancel := clock.WithDeadline(context.Background(), clk, clk.Now().Add(-time.Second))
	defer pastCancel()
	if !errors.Is(past.Err(), context.DeadlineExceeded) {
		t.Fatalf("past Err = %v", past.Err())
	}
}

func TestWithDeadlineReal(t *testing.T) {
	ctx, cancel := clock.WithTimeout(context.Background(), nil, time.Hour)
	defer cancel()
	if _, ok := ctx.Deadline(); !ok {
		t.Fatal("no deadline")
	}
	tm := clock.Real.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Fatal("real timer Stop")
	}
	if clock.OrReal(nil) != clock.Real {
		t.Fatal("OrReal(nil)")
	}
}

// Regression: a context derived from a fake-clock deadline context reported Canceled, not
// DeadlineExceeded, when the fake deadline passed (found by the retry policy's tests).
func TestWithDeadlineFakePropagatesToChildren(t *testing.T) {
	clk := clocktest.New(time.Time{})
	ctx, cancel := clock.WithTimeout(context.Background(), clk, time.Second)
	defer cancel()
	child, childCancel := context.WithCancel(ctx)
	defer childCancel()
	clk.Advance(time.Second)
	within.Recv(t, child.Done(), "the deadline context's child did not end")
	if !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("child Err = %v, want DeadlineExceeded", child.Err())
	}
	type key struct{}
	vctx, vcancel := clock.WithTimeout(context.WithValue(context.Background(), key{}, "v"), clk, time.Second)
	defer vcancel()
	if vctx.Value(key{}) != "v" {
		t.Fatal("Value not passed through")
	}
}

func TestSinceFake(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	start := clk.Now()
	clk.Advance(1500 * time.Millisecond)
	if got := clock.Since(clk, start); got != 1500*time.Millisecond {
		t.Fatalf("Since = %v, want 1.5s", got)
	}
}

func TestSinceReal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start time.Time
	}{
		{"monotonic", time.Now()},
		{"wall only", time.Now().Round(0)}, // no monotonic reading: time.Since reads the wall clock
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := clock.Since(clock.Real, tc.start)
			if later := time.Since(tc.start); d < 0 || d > later {
				t.Fatalf("Since = %v, want within [0, %v] (a later time.Since)", d, later)
			}
		})
	}
}

func TestLaterFake(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	start := clk.Now()
	clk.Advance(1500 * time.Millisecond)
	if got := clock.Later(clk, start); !got.Equal(clk.Now()) {
		t.Fatalf("Later = %v, want the fake clock's now %v", got, clk.Now())
	}
}

func TestLaterReal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start time.Time
	}{
		{"monotonic", time.Now()},
		{"wall only", time.Now().Round(0)}, // no monotonic reading: Later is Now
		{"zero", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			got := clock.Later(clock.Real, tc.start)
			after := time.Now()
			if !strings.Contains(got.String(), " m=") { // the monotonic reading, as String writes it
				t.Fatalf("Later = %v carries no monotonic reading", got)
			}
			// Compared by their monotonic readings: got is between two readings around it.
			if got.Before(before) || got.After(after) {
				t.Fatalf("Later = %v, want within [%v, %v]", got, before, after)
			}
		})
	}
}

var sinkTime time.Time

var sinkDuration time.Duration

// BenchmarkReadings prices the readings of the real clock policies take: Now (the wall and
// monotonic clocks), Since and Later (the monotonic clock alone).
func BenchmarkReadings(b *testing.B) {
	start := time.Now()
	b.Run("Now", func(b *testing.B) {
		for b.Loop() {
			sinkTime = clock.Real.Now()
		}
	})
	b.Run("Since", func(b *testing.B) {
		for b.Loop() {
			sinkDuration = clock.Since(clock.Real, start)
		}
	})
	b.Run("Later", func(b *testing.B) {
		for b.Loop() {
			sinkTime = clock.Later(clock.Real, start)
		}
	})
}

// uncomparable is a Clock of a type == cannot compare.
type uncomparable struct {
	clock.Clock
	f func()
}

func TestSame(t *testing.T) {
	fake, other := clocktest.New(time.Time{}), clocktest.New(time.Time{})
	u := uncomparable{Clock: fake, f: func() {}}
	for _, tt := range []struct {
		name string
		a, b clock.Clock
		want bool
	}{
		{"one fake", fake, fake, true},
		{"two fakes", fake, other, false},
		{"real", clock.Real, clock.Real, true},
		{"real and a fake", clock.Real, fake, false},
		{"uncomparable and itself", u, u, false},
		{"uncomparable and the real clock", u, clock.Real, false},
		{"nil", nil, nil, true},
	} {
		if got := clock.Same(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Same = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A fake timer that fired but whose value was not received stops as a time.Timer does since
// Go 1.23 (this module's go line is later): Stop and Reset report it active, and no stale value
// is received after Stop.
func TestFakeStopOfAFiredUnreceivedTimer(t *testing.T) {
	clk := clocktest.New(time.Time{})
	tm := clk.NewTimer(time.Second)
	clk.Advance(time.Second)
	if !tm.Stop() {
		t.Error("Stop of a fired timer whose value was not received = false, want true as time.Timer's")
	}
	select {
	case at := <-tm.C():
		t.Errorf("received a stale value %v after Stop", at)
	default:
	}
	if tm.Stop() {
		t.Error("second Stop = true, want false")
	}

	tm2 := clk.NewTimer(time.Second)
	clk.Advance(time.Second)
	if !tm2.Reset(time.Second) {
		t.Error("Reset of a fired timer whose value was not received = false, want true as time.Timer's")
	}
	clk.Advance(time.Second)
	select {
	case <-tm2.C():
	default:
		t.Fatal("the Reset timer did not fire")
	}
	if tm2.Reset(time.Second) {
		t.Error("Reset of a fired and received timer = true, want false")
	}
	tm2.Stop()
}

// AdvanceWhenWaiting waits on, rather than panics, when the timer it waited for is stopped
// before it looks at the timers.
func TestFakeAdvanceWhenWaitingAfterAStop(t *testing.T) {
	clk := clocktest.New(time.Time{})
	for range 200 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			clk.NewTimer(time.Second).Stop() // a wait that ended another way at once
			clk.NewTimer(time.Second)        // the one AdvanceWhenWaiting fires
		}()
		if d := clk.AdvanceWhenWaiting(); d != time.Second {
			t.Fatalf("AdvanceWhenWaiting = %v, want 1s", d)
		}
		within.Recv(t, done, "the goroutine setting the timers did not return")
		for clk.Timers() > 0 { // the second timer, when the first was the one fired
			clk.AdvanceWhenWaiting()
		}
	}
}

// A fake-clock deadline context's Err, once non-nil, stays what it was (the Context contract,
// as with context.WithDeadline): a parent cancelled after the fake deadline passed, or after
// the context's own cancel, does not change it.
func TestWithDeadlineFakeErrStaysAfterParentCancel(t *testing.T) {
	clk := clocktest.New(time.Time{})
	parent, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	ctx, cancel := clock.WithTimeout(parent, clk, time.Second)
	defer cancel()
	clk.Advance(time.Second)
	within.Recv(t, ctx.Done(), "the deadline context did not end")
	if err := ctx.Err(); err != context.DeadlineExceeded {
		t.Fatalf("Err after the deadline = %v, want DeadlineExceeded", err)
	}
	pcancel()
	if err := ctx.Err(); err != context.DeadlineExceeded {
		t.Fatalf("Err after the parent's cancel = %v, want DeadlineExceeded still", err)
	}

	// A parent cancelled first with a DeadlineExceeded cause: Err is the parent's, Canceled.
	parent3, pcancel3 := context.WithCancelCause(context.Background())
	ctx3, cancel3 := clock.WithTimeout(parent3, clk, time.Second)
	defer cancel3()
	pcancel3(context.DeadlineExceeded)
	within.Recv(t, ctx3.Done(), "the context whose parent was cancelled did not end")
	if err := ctx3.Err(); err != context.Canceled {
		t.Fatalf("Err after the parent's cancel with a cause = %v, want Canceled", err)
	}
}

// Regression: a fake-clock deadline context, and the contexts derived from it, were ended by
// goroutines (the clock's AfterFunc, the context package's watch of a parent it does not know),
// a moment after Advance returned: a test reading Err at once could see nil.
func TestWithDeadlineFakeDoneWhenAdvanceReturns(t *testing.T) {
	type key struct{}
	clk := clocktest.New(time.Time{})
	for i := range 100 { // one lucky goroutine schedule must not pass the test
		ctx, cancel := clock.WithTimeout(context.Background(), clk, time.Second)
		child, childCancel := context.WithCancel(ctx)
		grandchild, grandchildCancel := context.WithCancelCause(context.WithValue(child, key{}, i))
		clk.Advance(time.Second)
		for _, c := range []struct {
			name string
			ctx  context.Context
		}{{"context", ctx}, {"child", child}, {"grandchild", grandchild}} {
			if err := c.ctx.Err(); err != context.DeadlineExceeded {
				t.Fatalf("round %d: %s's Err once Advance returned = %v, want DeadlineExceeded", i, c.name, err)
			}
		}
		grandchildCancel(nil)
		childCancel()
		cancel()
	}
}

// Regression: a parent that ended before the fake deadline left the deadline's timer registered
// until the context's own cancel was called.
func TestWithDeadlineFakeParentEndStopsTimer(t *testing.T) {
	clk := clocktest.New(time.Time{})
	parent, pcancel := context.WithCancel(context.Background())
	ctx, cancel := clock.WithTimeout(parent, clk, time.Second)
	defer cancel()
	child, childCancel := context.WithCancel(ctx)
	defer childCancel()
	pcancel()
	within.Recv(t, child.Done(), "the child of the context whose parent was cancelled did not end") // the watch of the parent stops the timer, then ends the children
	if err := child.Err(); err != context.Canceled {
		t.Fatalf("child's Err after the parent's cancel = %v, want Canceled", err)
	}
	if n := clk.Timers(); n != 0 {
		t.Fatalf("Timers after the parent's cancel = %d, want 0", n)
	}
}
