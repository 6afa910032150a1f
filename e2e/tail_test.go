package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// tailConfig is the built-ins with the ml services' adaptive bulkhead off. On a machine
// loaded by the rest of the suite (and -race), CPU stalls look to the gradient bulkhead like a
// server queue building: its limit falls towards 2 and verifications wait for a slot up to
// its 1s max_wait, then fail BULKHEAD_FULL — slow verifications that are not spikes, and not
// what these tests measure. (The hedging sections are the built-in ones.)
const tailConfig = `
services:
  kyc.v1.LivenessService: {bulkhead: off}
  kyc.v1.FaceMatchService: {bulkhead: off}
`

// TestHedgingCutsSpikesFromColdStart (issue 16): with the built-in profiles and stubs whose
// requests stall for a whole spike at a given rate, a batch of verifications from a cold start
// (a new suite: nothing learnt) is hedged from the first calls on, and at spike rates where
// the 95th percentile is the spike itself. Counted rather than timed, so that a busy machine
// (or -race) cannot fail it: the verifications that took longer than a spike (a spike that got
// through: before issue 16, about 1 - (1-rate)³ of the first hundred per service, and the
// whole p99 at 3% and more) must stay under 1% of the batch — the goal is a p99 under
// 150ms, which BENCHMARKS.md's tail table measures — and the requests that reached the stubs,
// per call, within 1 + 1.5 × rate + 0.02 (with 0.02 of margin).
func TestHedgingCutsSpikesFromColdStart(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	tests := []struct {
		rate  float64
		spike time.Duration
	}{
		{0.05, time.Second},
		{0.08, time.Second},
		{0.05, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%g%% of %v", tt.rate*100, tt.spike), func(t *testing.T) {
			const n = 400
			h := newHarness(t, tailConfig, stub.Faults{Latency: 20 * time.Millisecond, Spike: tt.spike, SpikeRate: tt.rate})
			slow := batch(t, h, n, tt.spike)
			// The 1% the p99 leaves.
			if slow > n/100 {
				t.Errorf("%d of %d verifications took longer than a spike (%v), want at most %d", slow, n, tt.spike, n/100)
			}
			limit := 1 + 1.5*tt.rate + 0.02 + 0.02
			for name, method := range methods {
				got := float64(requestsTotal(h.stubFor(name), method)) / n
				t.Logf("%v: %.3f requests per call", name, got)
				if got > limit {
					t.Errorf("%v: %.3f requests per call, want at most %.3f", name, got, limit)
				}
			}
		})
	}
}

// TestHedgingStaysOffInSlowdown (issue 16): when the service slows down for everyone (every
// request 5× slower, no spikes), hedging learns the new latency and does not multiply the
// load: at most 1.05 requests per call, from a cold start. (What a cold start costs is a
// fixed number of early hedges, while the delay is learnt; 600 verifications keep it well
// inside the 5% even when -race and a busy machine stretch the first calls past the 150ms
// starting delay.)
func TestHedgingStaysOffInSlowdown(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	const n = 600
	h := newHarness(t, tailConfig, stub.Faults{Latency: 100 * time.Millisecond})
	batch(t, h, n, time.Hour)
	for name, method := range methods {
		got := float64(requestsTotal(h.stubFor(name), method)) / n
		t.Logf("%v: %.3f requests per call", name, got)
		if got > 1.05 {
			t.Errorf("%v: %.3f requests per call, want at most 1.05", name, got)
		}
	}
}

// batch runs n genuine verifications, 16 at a time, and returns how many took longer than
// slow.
func batch(t *testing.T, h *harness, n int, slow time.Duration) int {
	t.Helper()
	var count atomic.Int64
	parallel(n, 16, func(i int) {
		t0 := time.Now()
		resp, err := h.v.Verify(context.Background(), kyc.Request(int64(i+1), kyc.CaseGenuine))
		if err != nil {
			t.Errorf("verify %d: %v", i, err)
			return
		}
		if d := time.Since(t0); d > slow {
			count.Add(1)
			t.Logf("slow: %v %s", d.Round(time.Millisecond), describe(resp))
		}
	})
	return int(count.Load())
}
