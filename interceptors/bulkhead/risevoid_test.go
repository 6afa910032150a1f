package bulkhead_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// An overload failure of a slow call counts though quick calls raised the limit while it ran
// (a cheap method sharing the bulkhead with a slow one): a sign of overload is no sample only
// when its call started before the limit last fell. It was void when the call started before
// any change, so that quick successes raising the limit every millisecond voided every
// failure of the slow calls, and the limit climbed over a service shedding them. A second
// failure of a call that started before the fall still counts for nothing.
func TestOverloadCountsAfterARise(t *testing.T) {
	shed := status.Error(grpccodes.ResourceExhausted, "gpu queue full")
	for _, ac := range []struct {
		name string
		cfg  bulkhead.Adaptive
		slow error // how the slow call ends
	}{
		{"aimd drop", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 10}, shed},
		{"aimd over the threshold", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 10, LatencyThreshold: 50 * time.Millisecond}, nil},
		{"gradient drop", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, InitialLimit: 10}, shed},
	} {
		t.Run(ac.name, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1000, 0))
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 100, Adaptive: ac.cfg}, bulkhead.WithClock(clk))
			for range 10 {
				if !b.TryAcquire() {
					t.Fatal("TryAcquire below the limit failed")
				}
			}
			// Nine slow calls hold their slots from the start; the tenth slot serves quick
			// calls, each ending 1ms after it started, the next started at once, the limit
			// in use: each raises it by one.
			for range 40 {
				clk.Advance(time.Millisecond)
				b.ReleaseWith(time.Millisecond, nil)
				if !b.TryAcquire() {
					t.Fatal("TryAcquire after a release failed")
				}
			}
			risen := b.Capacity()
			if risen <= 10 {
				t.Fatalf("quick successes left the limit at %d, want it risen above 10", risen)
			}
			clk.Advance(60 * time.Millisecond)
			b.ReleaseWith(100*time.Millisecond, ac.slow)
			fell := b.Capacity()
			if fell >= risen {
				t.Fatalf("a slow call's overload sign (%v, 100ms) left the limit at %d, want it below %d", ac.slow, fell, risen)
			}
			b.ReleaseWith(100*time.Millisecond, ac.slow)
			if got := b.Capacity(); got != fell {
				t.Errorf("a second slow call, started before the fall, moved the limit from %d to %d", fell, got)
			}
			for b.InFlight() > 0 {
				b.Release()
			}
		})
	}
}
