package e2e

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// limitsConfig: OCR may have 2 calls in flight and fails fast beyond; face match may make 2
// calls at once after a quiet spell, then 1 a second, and fails fast beyond. Hedging is off:
// a hedge of a slow call would take a slot or a token of its own.
const limitsConfig = `
services:
  kyc.v1.FaceMatchService:
    rate_limit: {rate: 1, burst: 2}
    hedge: off
  kyc.v1.OCRService:
    bulkhead: {max_concurrent: 2, max_wait: 0, adaptive: off}
    hedge: off
`

// rejection reads a bulwark rejection's code and ErrorInfo reason.
func rejection(t *testing.T, err error) (grpccodes.Code, string) {
	t.Helper()
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == codes.Domain {
			return st.Code(), info.GetReason()
		}
	}
	return st.Code(), ""
}

// TestBulkheadRejectsBurst: with OCR's two slots held by slow calls, a burst of four more is
// refused at once with ResourceExhausted / BULKHEAD_FULL, never reaches the stub and is not
// retried; a verification caught in it fails with that step outcome.
//
// The slow calls hold their slots until the test cancels them (the stub's latency is a minute),
// not for a real-time span that a busy machine could outlast before the burst or the
// verification runs (issue 17 item 12).
func TestBulkheadRejectsBurst(t *testing.T) {
	h := newHarness(t, limitsConfig, stub.Faults{})
	ocr := h.stubs[svcOCR]
	if err := ocr.SetFaults(stub.Faults{Latency: time.Minute}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slowCtx, cancelSlow := context.WithCancel(ctx)
	defer cancelSlow()
	client := kycv1.NewOCRServiceClient(h.conns[svcOCR])
	inFlight := func() int {
		n, _, _ := h.bulkheadLevel(svcOCR)
		return n
	}
	if _, capacity, ok := h.bulkheadLevel(svcOCR); !ok || capacity != 2 {
		t.Fatalf("OCR bulkhead: found %v, capacity %d; want capacity 2", ok, capacity)
	}
	extract := func() error {
		_, err := client.Extract(slowCtx, &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(1, false)})
		return err
	}

	var wg sync.WaitGroup
	slow := make([]error, 2)
	for i := range slow {
		wg.Go(func() { slow[i] = extract() })
	}
	// Both slots taken, and both calls arrived at the stub: a slot is taken before the request
	// is sent, and on a loaded machine a call canceled in between never reaches the stub, which
	// would then count no request for it.
	for inFlight() < 2 || ocr.InService() < 2 {
		if ctx.Err() != nil {
			t.Fatalf("the two slow calls never took their slots and reached the stub (slots %d, at the stub %d)", inFlight(), ocr.InService())
		}
		time.Sleep(time.Millisecond)
	}

	burst := make([]error, 4)
	infos := make([]retry.Info, 4)
	took := make([]time.Duration, 4)
	var bwg sync.WaitGroup
	for i := range burst {
		bwg.Go(func() {
			start := time.Now()
			_, burst[i] = client.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(1, false)},
				retry.Report(&infos[i]))
			took[i] = time.Since(start)
		})
	}
	bwg.Wait()
	resp := h.verify(t, kyc.Request(1, kyc.CaseGenuine)) // OCR still full
	if got := inFlight(); got != 2 {
		t.Errorf("%d OCR slots held after the burst and the verification, want the 2 slow calls'", got)
	}
	cancelSlow()
	wg.Wait()

	for i, err := range slow {
		if status.Code(err) != grpccodes.Canceled {
			t.Errorf("slow call %d: %v, want Canceled (it held its slot until the test let go)", i, err)
		}
	}
	for i, err := range burst {
		code, reason := rejection(t, err)
		if code != grpccodes.ResourceExhausted || reason != "BULKHEAD_FULL" || !errors.Is(err, bulkhead.ErrFull) {
			t.Errorf("burst call %d: %v (code %v, reason %q), want ResourceExhausted BULKHEAD_FULL", i, err, code, reason)
		}
		if infos[i].Attempts != 1 {
			t.Errorf("burst call %d: %d attempts, want 1 (a rejection is not retried)", i, infos[i].Attempts)
		}
		// A call that waited for a slot would wait until the slow calls let go, which is only
		// after the burst: it would take the whole 30s context.
		if took[i] > 10*time.Second {
			t.Errorf("burst call %d took %v: it waited instead of failing fast", i, took[i])
		}
	}
	o := stepOf(t, resp, kycv1.Step_STEP_OCR)
	if resp.GetDecision() != kycv1.Decision_DECISION_FAILED || o.GetCode() != "RESOURCE_EXHAUSTED" || o.GetReason() != "BULKHEAD_FULL" {
		t.Errorf("verification during the burst: %s", describe(resp))
	}
	// The stub counts a request when it ends: the canceled slow calls end a moment after
	// their callers return.
	for requestsTotal(ocr, stub.MethodExtract) < 2 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if got := requestsTotal(ocr, stub.MethodExtract); got != 2 {
		t.Errorf("OCR stub saw %d requests, want the 2 slow ones", got)
	}
	if got := metric(t, h.reg, "bulwark_rejections_total", map[string]string{"service": svcOCR, "reason": "BULKHEAD_FULL"}); got != 5 {
		t.Errorf("bulwark_rejections_total{ocr, BULKHEAD_FULL} = %v, want 5", got)
	}
	if n := inFlight(); n != 0 {
		t.Errorf("%d OCR slots still held", n)
	}
}

// TestRateLimitRejectsBurst: face match's bucket holds 2 tokens; of a burst of 5 calls the
// first 2 pass and the other 3 are refused with ResourceExhausted / RATE_LIMITED, without
// reaching the stub.
//
// The suite runs on a fake clock, so the bucket refills only when the test says: on the real
// clock a stall of a loaded machine of a second anywhere in the burst (one token a second)
// let a third call through. The fake clock is an hour ahead of the real one, so that the
// calls' deadlines (budget from the fake now) are far in the real future.
func TestRateLimitRejectsBurst(t *testing.T) {
	fake := clocktest.New(time.Now().Add(time.Hour))
	h := newHarnessWith(t, limitsConfig, stub.Faults{}, []interceptors.Option{interceptors.WithClock(fake)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := kycv1.NewFaceMatchServiceClient(h.conns[svcFaceMatch])
	req := &kycv1.CompareRequest{Selfie: stub.Selfie(1, true), DocumentFace: stub.DocumentImage(1, false)}
	var passed, limited int
	for i := range 5 {
		var info retry.Info
		_, err := client.Compare(ctx, req, retry.Report(&info))
		if err == nil {
			passed++
			continue
		}
		code, reason := rejection(t, err)
		if code != grpccodes.ResourceExhausted || reason != "RATE_LIMITED" || !errors.Is(err, ratelimit.ErrLimited) {
			t.Errorf("call %d: %v (code %v, reason %q), want ResourceExhausted RATE_LIMITED", i, err, code, reason)
		}
		if info.Attempts != 1 {
			t.Errorf("call %d: %d attempts, want 1", i, info.Attempts)
		}
		limited++
	}
	if passed != 2 || limited != 3 {
		t.Errorf("%d passed and %d limited, want 2 and 3", passed, limited)
	}
	if got := requestsTotal(h.stubs[svcFaceMatch], stub.MethodCompare); got != 2 {
		t.Errorf("face-match stub saw %d requests, want 2", got)
	}
	if got := metric(t, h.reg, "bulwark_rejections_total", map[string]string{"service": svcFaceMatch, "reason": "RATE_LIMITED"}); got != 3 {
		t.Errorf("bulwark_rejections_total{facematch, RATE_LIMITED} = %v, want 3", got)
	}
	if got := h.counters.Snapshot()[kyc.KeyFaceMatch].Rejections; got != 3 {
		t.Errorf("summary rejections{facematch} = %d, want 3", got)
	}
	// A second later the bucket holds one token: one call passes, the next is refused.
	fake.Advance(time.Second)
	if _, err := client.Compare(ctx, req); err != nil {
		t.Errorf("a second after the burst: %v, want a refilled token", err)
	}
	if _, err := client.Compare(ctx, req); !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("a second call a second after the burst: %v, want RATE_LIMITED (1 token a second)", err)
	}
}
