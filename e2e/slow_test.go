package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// TestSlowServicesAreStillDecided: every service slows down for everyone, each request
// answered late (no fault, no spike), within the 8s budget. The built-in profiles, whole,
// decide every verification, as every policy off does, and no breaker opens: nothing cuts an
// attempt that is merely slow. At 2.5s their 5s per-attempt timeout is not reached; with the
// timeouts the profiles had (ml 3s, OCR 1.25s), every OCR attempt was cut, the cut attempts
// opened OCR's breaker, and about 3% of verifications were decided
// (benchmarks/results/brownout.md, "slowdown"). At 6s it is, and it cuts no attempt: the
// service answered no later attempt first (per_attempt_cut: overtaken); cutting every
// attempt at 5s, as the profiles did, decided none.
func TestSlowServicesAreStillDecided(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	for _, tc := range []struct {
		name    string
		latency time.Duration
		n       int
	}{
		{"2.5s", 2500 * time.Millisecond, 16},
		{"6s, past the per-attempt timeout", 6 * time.Second, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "", stub.Faults{Latency: 20 * time.Millisecond})
			// Warm up at the usual latency, as a pipeline that then slows down: the hedges'
			// delays and the bulkheads' limits have learnt the normal answers.
			kyc.Batch{N: 40, Concurrency: 8, Seed: 1}.Run(context.Background(), h.v)
			for _, s := range h.stubs {
				if err := s.SetFaults(stub.Faults{Latency: tc.latency}); err != nil {
					t.Fatal(err)
				}
			}
			o := runBatch(t, h, kyc.Batch{N: tc.n, Concurrency: 8, Seed: 3})
			t.Logf("%v; reached %v", o, o.reached)
			if o.decided != tc.n {
				t.Errorf("%d of %d verifications decided against services slowed to %v, want all (failed steps: %v)", o.decided, tc.n, tc.latency, o.reasons)
			}
			if opens := o.breakerOpens(); opens != 0 {
				t.Errorf("%d breaker openings against services that answer every request, want 0", opens)
			}
		})
	}
}
