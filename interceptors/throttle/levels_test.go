package throttle

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
)

func TestLevelsReadProbabilityNow(t *testing.T) {
	th, clk, _ := newTest(t, Config{})
	read := func() observe.Level {
		t.Helper()
		var got []observe.Level
		th.Levels(func(l observe.Level) bool { got = append(got, l); return true })
		if len(got) != 1 {
			t.Fatalf("levels = %+v, want one", got)
		}
		return got[0]
	}
	want := observe.Level{Kind: observe.LevelThrottleProbability, Policy: observe.PolicyAdaptiveThrottle, Service: svc}
	if got := read(); got != want {
		t.Fatalf("empty window: %+v, want %+v", got, want)
	}
	// 100 requests, 10 accepted, K = 2: (100 − 20) / 101.
	fill(th, 100, 10)
	want.Value = 80.0 / 101
	if got := read(); !near(got.Value, want.Value) || got.Kind != want.Kind || got.Service != svc {
		t.Fatalf("after failures: %+v, want %+v", got, want)
	}
	// Once the window has passed, the failures are forgotten with no call in between.
	clk.Advance(2 * th.Config().Window)
	if got := read(); got.Value != 0 {
		t.Fatalf("after the window: probability %v, want 0", got.Value)
	}
}

func TestLevelsDoNotAllocate(t *testing.T) {
	th, _, _ := newTest(t, Config{})
	fill(th, 10, 1)
	var sum float64
	add := func(l observe.Level) bool { sum += l.Value; return true }
	if a := testing.AllocsPerRun(100, func() { th.Levels(add) }); a != 0 {
		t.Fatalf("%v allocations per Levels, want 0", a)
	}
	if sum == 0 {
		t.Fatal("probability read as 0 after failures")
	}
}
