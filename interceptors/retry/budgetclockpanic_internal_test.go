package retry

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
)

// panicOnceClock is a fake clock whose next reading of Now panics once armed.
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

// A ratio budget whose Clock panics as it counts a call (an unobserved call, whose loop read no
// clock for it) does not stay locked: its Tokens and the next retry's Draw still answer. The
// clock was read under the budget's lock, which the panic left held, and every retry of the
// method hung for good.
func TestRatioBudgetClockPanicLeavesItUnlocked(t *testing.T) {
	clk := &panicOnceClock{Fake: clocktest.New(time.Now())}
	b := newBudget(RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second}, clk)
	func() {
		defer func() {
			if p := recover(); p != "clock" {
				t.Fatalf("recovered %v, want the clock's panic", p)
			}
		}()
		clk.armed.Store(true)
		b.record(codes.Verdict{Class: codes.Success}, true, time.Time{})
	}()
	done := make(chan bool, 1)
	go func() {
		_ = b.Tokens()
		ok, _ := b.Draw()
		done <- ok
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("the budget's floor refused a retry after the clock's panic")
		}
	case <-time.After(10 * time.Second): // a failure guard only: the budget answers at once
		t.Fatal("the budget's lock is still held after its clock panicked: Tokens and Draw hang")
	}
}
