package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
)

// outageConfig gives OCR 3 attempts (the built-in makes 4), a breaker that opens after 3
// failures in a row and probes after 3s (every open, not only the first), and backoffs of
// about 100ms then 200ms: a verification that waits out OCR's three
// attempts takes at least 300ms. OCR's hedging is off: the test counts OCR's requests, and on
// a loaded machine a failing attempt that took longer than the hedge delay's 50ms floor sent a
// fourth (make test beside a CI run: `UNAVAILABLE MAX_ATTEMPTS x4`, the breaker opened with
// two requests in flight).
const outageConfig = `
services:
  kyc.v1.LivenessService:
    retry: {initial_backoff: 20ms, max_backoff: 80ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
  kyc.v1.FaceMatchService:
    retry: {initial_backoff: 20ms, max_backoff: 80ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
  kyc.v1.OCRService:
    retry: {max_attempts: 3, initial_backoff: 100ms, max_backoff: 200ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
    hedge: off
    breaker: {consecutive_failures: 3, initial_recovery_timeout: 3s, recovery_timeout: 3s, half_open_max_calls: 1}
`

// outageRecovery is the breaker's recovery timeout in outageConfig. The breakers run on a fake
// clock (newBreakerClockHarness), so it passes only when the test advances that clock: the
// open-state checks cannot outlast it however slow the machine (at 400ms of real time a slow
// run saw the breaker half-open among them, a probe fail, and the transition counts double:
// issue 17 item 12).
const outageRecovery = 3 * time.Second

// TestOutageOpensBreakerAndRecovers takes the OCR stub down: the first verification waits out
// OCR's retries (the retry metric rises) and its third failure opens the breaker; while open,
// verifications fail fast with CIRCUIT_OPEN and the stub sees no request, also once it is back
// up, until the recovery timeout has passed on the breakers' clock; then the breaker
// half-opens, a probe succeeds and it closes.
func TestOutageOpensBreakerAndRecovers(t *testing.T) {
	ocrLabels := map[string]string{"service": svcOCR}
	var (
		reg           prometheus.Gatherer
		mu            sync.Mutex
		retriesAtOpen = -1.0
		opensAtOpen   = -1.0
		gatherErr     error
	)
	// Sees each event after promobs has counted it: what the metrics said when OCR's breaker
	// opened.
	atOpen := observe.SinkFunc(func(e observe.Event) {
		if e.Kind != observe.BreakerStateChanged || e.Service != svcOCR || e.To != "open" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if retriesAtOpen >= 0 {
			return
		}
		retriesAtOpen, gatherErr = gatherSum(reg, "bulwark_retries_total", ocrLabels)
		if gatherErr == nil {
			opensAtOpen, gatherErr = gatherSum(reg, "bulwark_breaker_transitions_total",
				map[string]string{"service": svcOCR, "to": "open"})
		}
	})
	breakerClock := clocktest.New(time.Time{})
	h := newBreakerClockHarness(t, outageConfig, stub.Faults{Latency: 2 * time.Millisecond}, breakerClock, atOpen)
	reg = h.reg
	ocr := h.stubs[svcOCR]
	if h.breakerState(svcOCR) == "" {
		t.Fatal("no OCR breaker")
	}

	for i := range 3 {
		if resp := h.verify(t, kyc.Request(int64(i+1), kyc.CaseGenuine)); resp.GetDecision() != kycv1.Decision_DECISION_APPROVED {
			t.Fatalf("warm-up: %s", describe(resp))
		}
	}

	ocr.Down()
	first := h.verify(t, kyc.Request(10, kyc.CaseGenuine))
	o := stepOf(t, first, kycv1.Step_STEP_OCR)
	if first.GetDecision() != kycv1.Decision_DECISION_FAILED || o.GetCode() != "UNAVAILABLE" || o.GetAttempts() != 3 {
		t.Fatalf("first verification in the outage: %s", describe(first))
	}
	if got := h.breakerState(svcOCR); got != "open" {
		t.Fatalf("OCR breaker %s after 3 failures in a row, want open", got)
	}
	timeline := o.GetDuration().AsDuration()
	if timeline < 300*time.Millisecond {
		t.Errorf("OCR retry timeline %v, want at least the 300ms of backoff", timeline)
	}

	// The retry metric rose before the breaker opened.
	mu.Lock()
	if gatherErr != nil {
		t.Fatal(gatherErr)
	}
	if retriesAtOpen != 2 || opensAtOpen != 1 {
		t.Errorf("when the breaker opened: bulwark_retries_total{ocr} = %v (want 2), transitions to open = %v (want 1)",
			retriesAtOpen, opensAtOpen)
	}
	mu.Unlock()
	firstRetry, firstOpen := -1, -1
	for i, e := range h.rec.Events(observe.RetryScheduled, observe.BreakerStateChanged) {
		switch {
		case e.Service != svcOCR:
		case e.Kind == observe.RetryScheduled && firstRetry < 0:
			firstRetry = i
		case e.Kind == observe.BreakerStateChanged && e.To == "open" && firstOpen < 0:
			firstOpen = i
		}
	}
	if firstRetry < 0 || firstOpen < 0 || firstRetry > firstOpen {
		t.Errorf("events: first OCR retry at %d, breaker open at %d; want the retry first", firstRetry, firstOpen)
	}

	// While open: fail fast, and the stub hears nothing.
	before := requestsTotal(ocr, stub.MethodExtract)
	for i := range 3 {
		resp := h.verify(t, kyc.Request(int64(20+i), kyc.CaseGenuine))
		o := stepOf(t, resp, kycv1.Step_STEP_OCR)
		if resp.GetDecision() != kycv1.Decision_DECISION_FAILED || o.GetReason() != "CIRCUIT_OPEN" || o.GetCode() != "UNAVAILABLE" {
			t.Errorf("while open: %s", describe(resp))
		}
		// Fail fast: one attempt, so none of the retry timeline's backoff. (The step's time
		// is bounded by the whole timeline, 300ms of which is sleep: a margin that a busy
		// machine's scheduling keeps, where a third of it did not.)
		if o.GetAttempts() != 1 {
			t.Errorf("while open OCR made %d attempts, want 1 (a rejection is not retried)", o.GetAttempts())
		}
		if d := o.GetDuration().AsDuration(); d >= timeline {
			t.Errorf("while open the OCR step took %v; the retry timeline was %v", d, timeline)
		}
	}
	if after := requestsTotal(ocr, stub.MethodExtract); after != before {
		t.Errorf("OCR stub requests grew from %d to %d while the breaker was open", before, after)
	}
	if got := metric(t, h.reg, "bulwark_rejections_total", map[string]string{"service": svcOCR, "reason": "CIRCUIT_OPEN"}); got != 3 {
		t.Errorf("bulwark_rejections_total{ocr, CIRCUIT_OPEN} = %v, want 3", got)
	}

	// Back up, but a moment short of the recovery timeout: still open, and the stub, which
	// would answer now, still hears nothing.
	ocr.Up()
	breakerClock.Advance(outageRecovery - time.Millisecond)
	early := h.verify(t, kyc.Request(30, kyc.CaseGenuine))
	if o := stepOf(t, early, kycv1.Step_STEP_OCR); early.GetDecision() != kycv1.Decision_DECISION_FAILED || o.GetReason() != "CIRCUIT_OPEN" {
		t.Errorf("%v after the breaker opened (recovery timeout %v): %s", outageRecovery-time.Millisecond, outageRecovery, describe(early))
	}
	if after := requestsTotal(ocr, stub.MethodExtract); after != before {
		t.Errorf("OCR stub requests grew from %d to %d before the recovery timeout", before, after)
	}

	// The recovery timeout has passed: the next call is the probe, which succeeds and closes
	// the breaker.
	breakerClock.Advance(time.Millisecond)
	resp := h.verify(t, kyc.Request(100, kyc.CaseGenuine))
	if resp.GetDecision() != kycv1.Decision_DECISION_APPROVED {
		t.Fatalf("after recovery: %s", describe(resp))
	}
	if got := h.breakerState(svcOCR); got != "closed" {
		t.Errorf("OCR breaker %s after a successful probe, want closed", got)
	}
	for _, tr := range []struct{ from, to string }{{"closed", "open"}, {"open", "half_open"}, {"half_open", "closed"}} {
		got := metric(t, h.reg, "bulwark_breaker_transitions_total", map[string]string{"service": svcOCR, "from": tr.from, "to": tr.to})
		if got != 1 {
			t.Errorf("bulwark_breaker_transitions_total{ocr, %s→%s} = %v, want 1", tr.from, tr.to, got)
		}
	}
	if got := metric(t, h.reg, "bulwark_breaker_state", map[string]string{"service": svcOCR, "state": "closed"}); got != 1 {
		t.Errorf("bulwark_breaker_state{ocr, closed} = %v, want 1", got)
	}
	if got := h.counters.Snapshot()[kyc.KeyOCR].BreakerOpens; got != 1 {
		t.Errorf("summary breaker_opens{ocr} = %d, want 1", got)
	}
}
