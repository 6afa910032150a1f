package retry

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// TestDisabledStreamAllocs pins what a suite's retry step adds to a stream made with Disable,
// over watching its end: one value holding the attempt's Round and what its report needs,
// registered for the end with OnEndOf (the Round and two closures, before), and the stream's
// call options with the Round; each stream still reports its one attempt.
func TestDisabledStreamAllocs(t *testing.T) {
	var finished int
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.AttemptFinished {
			finished++
		}
	})
	p, err := New(Config{MaxAttempts: 3, Idempotent: true}, WithClock(clocktest.New(time.Unix(1e9, 0))), WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	const method = "/kyc.v1.LivenessService/Check"
	base, _ := testkit.StreamAllocs(t, testkit.WatchOnly, method, Disable())
	finished = 0
	got, _ := testkit.StreamAllocs(t, p.stream(true), method, Disable())
	got -= base
	if finished != testkit.StreamAllocsRuns {
		t.Fatalf("%d AttemptFinished events, want %d: one a stream", finished, testkit.StreamAllocsRuns)
	}
	// want: the disabledStream and the call options with its Round.
	const want = 2
	if got > want {
		t.Errorf("a stream made with Disable through a suite's retry step costs %.0f allocations over watching its end (%.0f), want at most %d", got, base, want)
	}
}
