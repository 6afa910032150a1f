package clocktest

import (
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitersLen returns how many BlockUntil calls wait.
func (f *Fake) waitersLen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
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
			<-tm.C()
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
			for f.waitersLen() == 0 { // BlockUntil found no timer and waits
				runtime.Gosched()
			}
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
			<-released
		})
	}
}
