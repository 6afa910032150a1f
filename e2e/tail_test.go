package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc/metadata"
)

// tailConfig is the built-ins with the ml services' adaptive bulkhead off and every attempt
// allowed the whole budget. On a machine loaded by the rest of the suite (and -race), CPU
// stalls look to the gradient bulkhead like a server queue building: its limit falls (down to
// its floor of 8) and verifications wait for a slot, up to its 1s max_wait — slow verifications
// that are not spikes, and not what these tests measure. A stall longer than a per-attempt
// timeout (OCR's was 1.25s) cuts every OCR attempt in flight at once with DEADLINE_EXCEEDED, 16
// calls and their hedges, over its breaker's 20 failures in a row: beside three CPU burners one
// run in six of TestHedgingStaysOffInSlowdown had 55 of 600 verifications fail CIRCUIT_OPEN,
// where the stubs inject no failure for the breaker to count but such timeouts. The spikes here
// are cut by hedges, not by the per-attempt timeouts (5s; ml 3s and OCR 1.25s when this was
// written), which therefore go; and a spike that no hedge beats must run to its end for the
// stub to count it (stub.Spiked, which batch reads): cut by a timeout (a 3s spike by ml's 3s, a
// 2s one by OCR's 1.25s) and retried, it read as a stall. (The hedging sections are the
// built-in ones.)
const tailConfig = `
services:
  kyc.v1.LivenessService: {bulkhead: off, retry: {per_attempt_timeout: 8s}}
  kyc.v1.FaceMatchService: {bulkhead: off, retry: {per_attempt_timeout: 8s}}
  kyc.v1.OCRService: {retry: {per_attempt_timeout: 8s}}
`

// TestHedgingCutsSpikesFromColdStart (issue 16): with the built-in profiles and stubs whose
// requests stall for a whole spike at a given rate, a batch of verifications from a cold start
// (a new suite: nothing learnt) is hedged from the first calls on, and at spike rates where
// the 95th percentile is the spike itself. Counted rather than timed, so that a busy machine
// (or -race) cannot fail it: the verifications that took longer than a spike because of a
// spike that got through (a step longer than the spike whose stub served a spike of it in
// full, stub.Spiked: before issue 16, about 1 - (1-rate)³ of the first hundred per service,
// and the whole p99 at 3% and more) must stay under a fifth of the unhedged count (1 -
// (1-rate)³ of the batch; 1% when that is more) — the goal is 1%, a p99 under 150ms, which
// BENCHMARKS.md's tail table measures and the hedge package's TestSpikesFromColdStart asserts
// on a fake clock, where three spikes in a row, 3 × rate³ of the verifications (0.15% at 8%),
// get through. In real time a loaded machine's stalls add slow verifications no hedge saves:
// three CPU burners beside the suite made runs of neighbouring verifications slow, every step
// about 1s after 2-3 attempts, up to 52 against a bound of 11; those whose slow steps had no
// spike served in full are logged as stalls and not counted (batch). The calls plus
// the hedges that won stay within 1 + 1.5 × rate + 0.02 per call, the hedges that lost within
// hedge.MaxHedgeShare of the calls plus hedge.HedgeBurst, and the requests that reached the
// stubs within the calls, their retries, the hedges that won and that cap (hedgeLoad). Spike
// lengths and the stubs' seeds vary between the cases; none is shorter than 1s, since under
// the whole suite with -race a verification without any spike has taken up to 800ms (the
// hedge package's test covers 0.5s spikes on a fake clock).
func TestHedgingCutsSpikesFromColdStart(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	tests := []struct {
		rate  float64
		spike time.Duration
		seed  int64 // of the stubs' spikes
	}{
		{0.05, time.Second, 1},
		{0.08, time.Second, 2},
		{0.08, 2 * time.Second, 3},
		{0.05, 3 * time.Second, 4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%g%% of %v, seed %d", tt.rate*100, tt.spike, tt.seed), func(t *testing.T) {
			const n = 400
			h := newSeededHarness(t, tailConfig, stub.Faults{Latency: 20 * time.Millisecond, Spike: tt.spike, SpikeRate: tt.rate}, tt.seed)
			slow, failed := batch(t, h, n, tt.spike)
			// Without hedging a verification is slow when any of its three steps meets a spike:
			// 1-(1-rate)^3 of them (14% at 5%, 22% at 8%). The goal's 1% (the p99) is asserted
			// exactly on a fake clock (hedge.TestSpikesFromColdStart); in real time a spiked
			// attempt and its hedge can both be held by a stall of a loaded machine, so this
			// test allows a fifth of the unhedged count, which hedging that does not work cannot
			// meet (with hedging off, every spike is served in full and counted).
			fast := 1 - tt.rate
			unhedged := float64(n) * (1 - fast*fast*fast)
			// A verification that failed is one no hedge saved: it counts with the slow ones.
			if slowLimit := max(n/100, int(unhedged/5)); slow+failed > slowLimit {
				t.Errorf("%d of %d verifications took longer than a spike (%v) because of a spike no hedge beat and %d failed, want at most %d together (without hedging about %.0f slow)",
					slow, n, tt.spike, failed, slowLimit, unhedged)
			}
			// Hedges that won cut a spike short; hedges that lost were sent for an answer that
			// was late for another reason, here a stall of the loaded machine (-race, the other
			// packages' tests), which no seed fixes. The goal's bound is asserted on the first
			// (exactly, on a fake clock, in the hedge package: TestSpikesFromColdStart); the
			// second is held by hedge.MaxHedgeShare, and so is the total (hedgeLoad). The total
			// is not held to the goal here: it counts the hedges that lost, as many as the
			// machine's stalls make, up to the cap. It was held within 0.15 of the goal, and
			// three CPU burners beside the suite put 1.245-1.250 requests per call on a stub
			// at 5% against a bound of 1.245, with the cap far from reached (76 lost of 132).
			// TestSpikesFromColdStart asserts the goal's total on a fake clock.
			limit := 1 + 1.5*tt.rate + 0.02 // requests per call
			for name := range methods {
				if wins := hedgeLoad(t, h, name, n); float64(n+wins)/n > limit {
					t.Errorf("%v: %.3f requests per call counting the hedges that won, want at most %.3f", name, float64(n+wins)/n, limit)
				}
			}
		})
	}
}

// TestHedgingStaysOffInSlowdown (issue 16): when the service slows down for everyone (every
// request 5× slower, no spikes), hedging learns the new latency and does not multiply the
// load, from a cold start. In a slowdown a hedge cannot win (the first attempt, as slow,
// started earlier) unless the machine stalls that attempt alone: the hedges that won stay
// within 5% of the calls, and those that lost, with all requests, within hedge.MaxHedgeShare's
// cap (hedgeLoad). The hedges that lose are the stalls of a loaded machine, which put answers
// past the delay at random: all requests were held within 1.15 per call (1.05 to 1.07 seen
// under -race), and three CPU burners beside the suite made 1.160 (97 hedges lost of 600
// calls, the cap 182). TestSlowdownFromColdStart in the hedge package asserts the goal, 1.05
// per call, on a fake clock (1.02 there).
func TestHedgingStaysOffInSlowdown(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time batch")
	}
	const n = 600
	h := newHarness(t, tailConfig, stub.Faults{Latency: 100 * time.Millisecond})
	// Every verification is decided: calls that failed would take their load off the stubs.
	// (A stall of a loaded machine could cut one short: 1% allowed.)
	if _, failed := batch(t, h, n, time.Hour); failed > n/100 {
		t.Errorf("%d of %d verifications failed, want at most %d", failed, n, n/100)
	}
	for name := range methods {
		// What a failed batch needs to tell a stall from a policy's doing: attempts cut by the
		// per-attempt timeout and the breaker trips they led to.
		t.Logf("%v: %.0f attempts DeadlineExceeded; breaker opened %.0f times; %.0f attempts refused by it", name,
			metric(t, h.reg, "bulwark_attempts_total", map[string]string{"service": stepService[name], "code": "DeadlineExceeded"}),
			metric(t, h.reg, "bulwark_breaker_transitions_total", map[string]string{"service": stepService[name], "to": "open"}),
			metric(t, h.reg, "bulwark_rejections_total", map[string]string{"service": stepService[name], "policy": observe.PolicyBreaker}))
		if wins := hedgeLoad(t, h, name, n); float64(wins) > 0.05*n {
			t.Errorf("%v: %d hedges won, want at most %d (5%% of the calls)", name, wins, n/20)
		}
	}
}

// hedgeLoad checks, for the step name after a batch of n verifications, the load hedging put
// on its stub against what the library holds exactly however loaded the machine: the hedges
// that lost within hedge.MaxHedgeShare of the calls plus hedge.HedgeBurst, and every request
// the stub saw a call's first attempt, a retry or a hedge, so that the requests per call stay
// within 1 + MaxHedgeShare + (HedgeBurst + the hedges that won + the retries) / n. It
// returns the hedges that won. How many hedges lose is the machine's doing (its stalls put
// answers past the learnt delay) up to that cap: the goal's totals are asserted on a fake
// clock (hedge.TestSpikesFromColdStart, TestSlowdownFromColdStart).
func hedgeLoad(t *testing.T, h *harness, name kycv1.Step, n int) (wins int) {
	t.Helper()
	labels := map[string]string{"service": stepService[name]}
	requests := requestsTotal(h.stubFor(name), methods[name])
	hedges := int(metric(t, h.reg, "bulwark_hedges_total", labels))
	wins = int(metric(t, h.reg, "bulwark_hedge_wins_total", labels))
	retries := int(metric(t, h.reg, "bulwark_retries_total", labels))
	t.Logf("%v: %.3f requests per call; %d hedges, %d won; %d retries", name, float64(requests)/float64(n), hedges, wins, retries)
	if lost := hedges - wins; float64(lost) > hedge.MaxHedgeShare*float64(n)+hedge.HedgeBurst {
		t.Errorf("%v: %d hedges lost, want at most %g of %d calls plus %d", name, lost, hedge.MaxHedgeShare, n, hedge.HedgeBurst)
	}
	if limit := 1 + hedge.MaxHedgeShare + float64(hedge.HedgeBurst+wins+retries)/float64(n); float64(requests)/float64(n) > limit {
		t.Errorf("%v: %.3f requests per call (%d hedges, %d won, %d retries), want at most %.3f: 1 + %g + (%d + the hedges that won + the retries) / %d calls",
			name, float64(requests)/float64(n), hedges, wins, retries, limit, hedge.MaxHedgeShare, hedge.HedgeBurst, n)
	}
	return wins
}

// stepService is the full service name each step calls, as metric labels name it.
var stepService = map[kycv1.Step]string{
	kycv1.Step_STEP_LIVENESS:   svcLiveness,
	kycv1.Step_STEP_FACE_MATCH: svcFaceMatch,
	kycv1.Step_STEP_OCR:        svcOCR,
}

// batch runs n genuine verifications, 16 at a time, each sending its verification id as the
// stubs' request id (stub.MDRequestID), and returns how many took longer than slow because of
// a spike no hedge beat, and how many failed (undecided), whatever their time: a verification
// that failed early (a step refused, a budget cut short) is fast without any hedge having
// helped. A slow verification counts when one of its steps took longer than slow and its stub
// served a spike of that step's request in full (stub.Spiked: an attempt the hedge beat is
// cancelled during its spike, and not counted). The others are the machine's stalls, which
// hold every call in flight for a second or more, spike or not, and which no hedge saves:
// logged ("stalled") and not counted.
func batch(t *testing.T, h *harness, n int, slow time.Duration) (slowCount, failed int) {
	t.Helper()
	var count, stalls, failures atomic.Int64
	parallel(n, 16, func(i int) {
		req := kyc.Request(int64(i+1), kyc.CaseGenuine)
		ctx := metadata.AppendToOutgoingContext(context.Background(), stub.MDRequestID, req.GetVerificationId())
		t0 := time.Now()
		resp, err := h.v.Verify(ctx, req)
		if err != nil {
			t.Errorf("verify %d: %v", i, err)
			return
		}
		d := time.Since(t0)
		if resp.GetDecision() == kycv1.Decision_DECISION_FAILED {
			failures.Add(1)
			t.Logf("failed: %v %s", d.Round(time.Millisecond), describe(resp))
			return
		}
		if d <= slow {
			return
		}
		if h.spikeMissed(resp, slow) {
			count.Add(1)
			t.Logf("slow: %v %s", d.Round(time.Millisecond), describe(resp))
			return
		}
		stalls.Add(1)
		t.Logf("stalled: %v %s", d.Round(time.Millisecond), describe(resp))
	})
	if s := stalls.Load(); s > 0 {
		t.Logf("%d of %d verifications took longer than %v with no spike served in full in a slow step: the machine's stalls, not counted", s, n, slow)
	}
	return int(count.Load()), int(failures.Load())
}

// spikeMissed reports whether a step of resp took longer than slow and its stub served a
// latency spike of that step's request (the verification id) in full: a spike that no hedge
// beat.
func (h *harness) spikeMissed(resp *kycv1.VerifyResponse, slow time.Duration) bool {
	for _, o := range resp.GetSteps() {
		if o.GetDuration().AsDuration() > slow && h.stubFor(o.GetStep()).Spiked(methods[o.GetStep()], resp.GetVerificationId()) > 0 {
			return true
		}
	}
	return false
}
