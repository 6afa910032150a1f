package e2e

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// hedgeConfig hedges face match with the built-in rule (the lower of p99 and twice the median
// of recent latencies) from a 20ms start, after 20 samples; the built-in ml profile's 50ms floor
// is lowered to 1ms, since this stub answers in 5ms. Its retry budget stays the built-in one
// (0.6 retries and hedges per call + 2/s over 10s), which the hedges draw on.
const hedgeConfig = `
services:
  kyc.v1.FaceMatchService:
    hedge: {max_attempts: 3, percentile: 0.99, median_multiple: 2, delay: 20ms, min_delay: 1ms, min_samples: 20, window: 200}
`

// TestHedgingCutsTheTail: against a face-match stub whose requests take 5ms, 5% of them 500ms
// more (seeded), the same calls without and with hedging. Counted, not timed (it compared p99s
// on the real clock before, and on a loaded 2-core machine the ratio fell short one run in two):
// without hedging the calls slower than a spike are the spikes themselves, a number the stub's
// seed fixes (about 5% of 200); with hedging a call is that slow only when three attempts in a
// row spike (0.0125%) or the machine stalls for half a second. The extra load is bounded, the
// losing attempts are cancelled, and the stub sees it.
func TestHedgingCutsTheTail(t *testing.T) {
	const spike = 500 * time.Millisecond
	faults := stub.Faults{Latency: 5 * time.Millisecond, SpikeRate: 0.05, Spike: spike}
	h := newSeededHarness(t, hedgeConfig, faults, 7)
	s := h.stubs[svcFaceMatch]
	client := kycv1.NewFaceMatchServiceClient(h.conns[svcFaceMatch])
	req := &kycv1.CompareRequest{Selfie: stub.Selfie(1, true), DocumentFace: stub.DocumentImage(1, false)}
	const calls, workers = 200, 4
	run := func(opts ...grpc.CallOption) (slow int) {
		var failed, n atomic.Int64
		parallel(calls, workers, func(i int) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			t0 := time.Now()
			if _, err := client.Compare(ctx, req, opts...); err != nil {
				failed.Add(1)
			}
			if time.Since(t0) >= spike {
				n.Add(1)
			}
		})
		if n := failed.Load(); n > 0 {
			t.Fatalf("%d calls failed", n)
		}
		return int(n.Load())
	}

	before := s.Requests(stub.MethodCompare, grpccodes.OK)
	plain := run(hedge.Disable())
	if got := s.Requests(stub.MethodCompare, grpccodes.OK) - before; got != calls {
		t.Fatalf("with hedging off the stub answered %d requests, want exactly %d", got, calls)
	}
	sentBefore := metric(t, h.reg, "bulwark_hedges_total", map[string]string{"service": svcFaceMatch})
	reqBefore := s.Requests(stub.MethodCompare, grpccodes.OK) + s.Requests(stub.MethodCompare, grpccodes.Canceled)
	hedged := run()
	hedges := metric(t, h.reg, "bulwark_hedges_total", map[string]string{"service": svcFaceMatch}) - sentBefore
	wins := metric(t, h.reg, "bulwark_hedge_wins_total", map[string]string{"service": svcFaceMatch})

	// The losers' cancellation reaches the stub asynchronously: wait for its count to settle.
	served := -1
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		n := s.Requests(stub.MethodCompare, grpccodes.OK) + s.Requests(stub.MethodCompare, grpccodes.Canceled) - reqBefore
		if n == served {
			break
		}
		served = n
		time.Sleep(50 * time.Millisecond)
	}
	extra := float64(served-calls) / calls
	t.Logf("calls slower than a spike (%v): %d of %d without hedging, %d with; %v hedges (%.1f%% extra requests), %v won; the stub saw %d cancelled",
		spike, plain, calls, hedged, hedges, 100*extra, wins, s.Requests(stub.MethodCompare, grpccodes.Canceled))

	if plain < 5 {
		t.Fatalf("without hedging only %d calls took a spike (%v): the stub's tail did not show; the test proves nothing", plain, spike)
	}
	if hedged > 1 {
		t.Errorf("with hedging %d calls took longer than a spike, want at most 1 (of %d without)", hedged, plain)
	}
	// A hedge whose call is decided as it starts never goes out: at most one request per hedge.
	if served <= calls || served > calls+int(hedges) {
		t.Errorf("the stub saw %d requests, want one per call plus at most one per hedge (%d + %v)", served, calls, hedges)
	}
	// The hedged run draws its own spikes from the stub's seeded sequence (9 where the run
	// without hedging drew 10, at seed 7 on a quiet machine): at least half as many hedges as
	// the other run's spikes, not one each.
	if hedges < float64(plain)/2 || extra > 0.4 {
		t.Errorf("%v hedges for %d calls (%.0f%% extra load), want at least half the spikes of the run without hedging (%d), and at most 40%%", hedges, calls, 100*extra, plain)
	}
	if wins < float64(plain)/2 || s.Requests(stub.MethodCompare, grpccodes.Canceled) < 1 {
		t.Errorf("hedges won %v calls and the stub saw %d cancelled attempts; want at least half the spikes (%d) won and some cancelled",
			wins, s.Requests(stub.MethodCompare, grpccodes.Canceled), plain)
	}
}

// adaptiveConfig gives OCR a bulkhead of up to 64 calls whose limit adapts, failing fast,
// from 4, down to 1 (the built-in ocr profile's own adaptive limit, which this overrides
// field by field, starts at 32 and stops at 8). aimd gets a latency threshold (a call slower
// than 60ms, three times the unloaded latency, counts as a drop); gradient reads none (config
// refuses one beside it), and takes the package's tolerance, 1.5, not the profile's 2.
func adaptiveConfig(algorithm string) string {
	threshold := ", min_limit: 1, tolerance: 1.5"
	if algorithm == "aimd" {
		threshold = ", min_limit: 1, latency_threshold: 60ms"
	}
	return `
services:
  kyc.v1.OCRService:
    retry: {max_attempts: 1}
    bulkhead:
      max_concurrent: 64
      adaptive: {algorithm: ` + algorithm + `, initial_limit: 4` + threshold + `}
`
}

// TestAdaptiveBulkheadFindsTheKnee: OCR's stub serves 4 requests at full speed (20ms) and
// slows down in proportion beyond (a GPU sharing its time). Under 24 callers in a loop, the
// adaptive limit settles near that knee rather than at its 64 ceiling, which a static bulkhead
// would let through.
func TestAdaptiveBulkheadFindsTheKnee(t *testing.T) {
	for _, algorithm := range []string{"aimd", "gradient"} {
		t.Run(algorithm, func(t *testing.T) {
			h := newHarness(t, adaptiveConfig(algorithm), stub.Faults{Latency: 20 * time.Millisecond, Capacity: 4})
			if _, _, ok := h.bulkheadLevel(svcOCR); !ok {
				t.Fatal("no OCR bulkhead")
			}
			client := kycv1.NewOCRServiceClient(h.conns[svcOCR])
			req := &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(1, false), DocumentType: kycv1.DocumentType_DOCUMENT_TYPE_PASSPORT}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			var ok, full atomic.Int64
			var limits []int // only this goroutine reads the limit
			for range 24 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						_, err := client.Extract(ctx, req)
						switch {
						case err == nil:
							ok.Add(1)
						case errors.Is(err, bulkhead.ErrFull) || status.Code(err) == grpccodes.ResourceExhausted:
							full.Add(1)
							time.Sleep(2 * time.Millisecond)
						}
					}
				}()
			}
			tick := time.NewTicker(50 * time.Millisecond)
			for done := false; !done; {
				select {
				case <-ctx.Done():
					done = true
				case <-tick.C:
					_, limit, _ := h.bulkheadLevel(svcOCR)
					limits = append(limits, limit)
				}
			}
			tick.Stop()
			wg.Wait()
			// The second half of the run: the limit has had a second to settle.
			settled := limits[len(limits)/2:]
			t.Logf("%s: limit over time %v; %d calls served, %d rejected as full", algorithm, limits, ok.Load(), full.Load())
			// A limit that did not adapt would sit at 48 (24 callers keep any limit up to
			// twice their number in use) and a static bulkhead at 64. AIMD's bound is tight: a
			// busy machine only makes calls slower, so more of them cross the 60ms threshold and
			// the limit lower. The gradient reads the latency against a baseline the same busy
			// machine inflates: under load it settled as high as 19 (once failing a bound of 16,
			// issue 17 item 12), so its bound is half the ceiling.
			bound := 16
			if algorithm == "gradient" {
				bound = 32
			}
			for _, l := range settled {
				if l < 1 || l > bound {
					t.Errorf("limit %d after settling, want within [1, %d] (knee 4, ceiling 64, 48 unadapted)", l, bound)
					break
				}
			}
			// Kept busy, not starved: unloaded it serves 300 and more. Under two suites at once
			// AIMD served 37, every call slower than its 60ms threshold holding the limit
			// near 1 (issue 17 item 12), so the bound is what even one slot serves on a busy
			// machine.
			if ok.Load() < 10 {
				t.Errorf("%d calls served in 2s, want the service kept busy", ok.Load())
			}
			if n := h.rec.Count(observe.LimitChanged); n == 0 {
				t.Error("no LimitChanged event")
			}
		})
	}
}

// throttleConfig: face match with no retries, no hedges and no breaker (so that only the
// throttle acts), K = 1.2 over a one-second window. (With K = 2 the throttle tolerates a
// service refusing up to half of its requests: this stub sits exactly at that edge.)
const throttleConfig = `
services:
  kyc.v1.FaceMatchService:
    retry: {max_attempts: 1}
    hedge: off
    breaker: off
    adaptive_throttle: {k: 1.2, window: 1s}
`

// TestAdaptiveThrottleShedsDoomedCalls: with the face-match stub refusing half its requests
// (ResourceExhausted), the client soon stops sending most of them, rejecting locally with
// ADAPTIVE_THROTTLE; when the stub recovers, once the window has passed, nearly every call
// reaches it again.
//
// The suite runs on a fake clock with a seeded random source (the stub's faults are seeded
// too): the window holds every call of a batch however long the machine takes to run it, and
// passes only when the test advances the clock. On the real clock a loaded machine stretched
// the batches over more than the window, which then forgot the refusals mid-batch.
func TestAdaptiveThrottleShedsDoomedCalls(t *testing.T) {
	// Far ahead of the real clock, so that the calls' deadlines (budget from the fake now) are
	// far in the real future too.
	fake := clocktest.New(time.Now().Add(time.Hour))
	seeded := seededRand(17, 12)
	h := newHarnessWith(t, throttleConfig, stub.Faults{Fail: map[grpccodes.Code]float64{grpccodes.ResourceExhausted: 0.5}},
		[]interceptors.Option{interceptors.WithClock(fake), interceptors.WithRand(seeded)})
	s := h.stubs[svcFaceMatch]
	client := kycv1.NewFaceMatchServiceClient(h.conns[svcFaceMatch])
	req := &kycv1.CompareRequest{Selfie: stub.Selfie(1, true), DocumentFace: stub.DocumentImage(1, false)}
	reached := func() int {
		return s.Requests(stub.MethodCompare, grpccodes.OK) + s.Requests(stub.MethodCompare, grpccodes.ResourceExhausted)
	}
	batch := func(n int) (sent, throttled int) {
		before := reached()
		for range n {
			_, err := client.Compare(context.Background(), req)
			if code, reason := rejection(t, err); code == grpccodes.Unavailable && reason == throttle.ReasonThrottled {
				throttled++
			}
		}
		return reached() - before, throttled
	}
	batch(100) // warm-up: the throttle learns the accept rate
	throttleRejections := map[string]string{"service": svcFaceMatch, "policy": observe.PolicyAdaptiveThrottle}
	rejectedBefore := metric(t, h.reg, "bulwark_rejections_total", throttleRejections)
	sent, throttled := batch(200)
	p, ok := h.throttleProbability(svcFaceMatch)
	if !ok {
		t.Fatal("no face match throttle")
	}
	t.Logf("stub refusing half: %d of 200 calls reached it, %d throttled locally (probability %.2f)", sent, throttled, p)
	// Sending a third of the calls leaves two thirds of the doomed ones unsent.
	if sent > 200/3 {
		t.Errorf("%d of 200 calls reached a stub refusing half of them, want at most a third", sent)
	}
	if sent+throttled != 200 {
		t.Errorf("sent %d + throttled %d != 200", sent, throttled)
	}
	if got := metric(t, h.reg, "bulwark_rejections_total", throttleRejections) - rejectedBefore; got != float64(throttled) {
		t.Errorf("bulwark_rejections_total{policy=adaptive_throttle} rose by %v over the batch, want %d (the calls throttled)", got, throttled)
	}
	if got := metric(t, h.reg, "bulwark_adaptive_throttle_probability", map[string]string{"service": svcFaceMatch}); got < 0.5 {
		t.Errorf("bulwark_adaptive_throttle_probability = %v, want above 0.5", got)
	}

	if err := s.SetFaults(stub.Faults{}); err != nil {
		t.Fatal(err)
	}
	fake.Advance(1100 * time.Millisecond) // the window forgets the refusals
	sent, throttled = batch(200)
	t.Logf("stub recovered: %d of 200 calls reached it, %d throttled", sent, throttled)
	if sent < 190 {
		t.Errorf("after recovery %d of 200 calls reached the stub, want nearly all", sent)
	}
}
