package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
)

// quickRetriesNoBreakers is quickRetries with the three services' breakers off.
const quickRetriesNoBreakers = `
services:
  kyc.v1.LivenessService:
    retry: {initial_backoff: 20ms, max_backoff: 80ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
    hedge: off
    adaptive_throttle: off
    breaker: off
  kyc.v1.FaceMatchService:
    retry: {initial_backoff: 20ms, max_backoff: 80ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
    hedge: off
    adaptive_throttle: off
    breaker: off
  kyc.v1.OCRService:
    retry: {initial_backoff: 20ms, max_backoff: 80ms, jitter_amount: 10ms, throttle: {max_tokens: 0, ratio: 0}}
    hedge: off
    adaptive_throttle: off
    breaker: off
`

var allSteps = []kycv1.Step{kycv1.Step_STEP_LIVENESS, kycv1.Step_STEP_FACE_MATCH, kycv1.Step_STEP_OCR}

// TestScriptedTransientFailuresAreAllRetried scripts every fifth verification so that each of
// its three calls fails twice with Unavailable (fewer than every profile's max_attempts - 1:
// the built-in ml and ocr profiles both allow 4 attempts): a retry can save each of them, so
// none may fail, and the stub's per-request counters must show exactly the attempts the steps
// report.
//
// The breakers are off here: this test is about what retries save. With them on, the slow
// scripted verifications (each sleeping through two backoffs) come to fill all four workers at
// once, their failed attempts reach a breaker five in a row, and it opens as it should — which
// TestOutageOpensBreakerAndRecovers covers. (Found when the suite ran without -race, where the
// fast verifications finish sooner and the clustering is the rule.)
func TestScriptedTransientFailuresAreAllRetried(t *testing.T) {
	h := newHarness(t, quickRetriesNoBreakers, stub.Faults{Latency: 2 * time.Millisecond})
	const n, failFirst = 40, 2
	resps := make([]*kycv1.VerifyResponse, n)
	parallel(n, 4, func(i int) {
		req := kyc.Request(int64(i+1), kyc.CaseGenuine)
		if i%5 == 0 {
			resps[i] = h.verify(t, req, stub.MDFailFirst, fmt.Sprint(failFirst))
		} else {
			resps[i] = h.verify(t, req)
		}
	})
	scripted := 0
	for i, resp := range resps {
		if resp.GetDecision() != kycv1.Decision_DECISION_APPROVED {
			t.Errorf("want APPROVED: %s", describe(resp))
			continue
		}
		if d := kyc.Elapsed(resp); d >= kyc.DefaultBudget {
			t.Errorf("%s took %v, beyond the 8s budget", resp.GetVerificationId(), d)
		}
		wantAttempts := 1
		if i%5 == 0 {
			wantAttempts = failFirst + 1
			scripted++
		}
		for _, st := range allSteps {
			got := h.stubFor(st).Attempts(methods[st], resp.GetVerificationId())
			if got != wantAttempts {
				t.Errorf("%s %v: stub counted %d attempts, want %d", resp.GetVerificationId(), st, got, wantAttempts)
			}
			if o := stepOf(t, resp, st); int(o.GetAttempts()) != got {
				t.Errorf("%s %v: step reports %d attempts, stub counted %d", resp.GetVerificationId(), st, o.GetAttempts(), got)
			}
		}
	}
	for _, st := range allSteps {
		s := h.stubFor(st)
		if got, want := s.Requests(methods[st], grpccodes.Unavailable), scripted*failFirst; got != want {
			t.Errorf("%v: stub answered %d Unavailable, want %d", st, got, want)
		}
		if got := s.Requests(methods[st], grpccodes.OK); got != n {
			t.Errorf("%v: stub answered %d OK, want %d", st, got, n)
		}
	}
	sum := kyc.Summarize(resps, 0, h.counters)
	if sum.Approved != n || sum.Failed != 0 {
		t.Errorf("summary: %+v", sum)
	}
	for key, st := range sum.Services {
		if st.Calls != n || st.Retries != int64(scripted*failFirst) || st.Attempts != int64(n+scripted*failFirst) {
			t.Errorf("summary %s: %+v, want %d calls, %d retries", key, st, n, scripted*failFirst)
		}
	}
}

// TestRandomUnavailableFailsOnlyWhenRetriesRunOut has the stubs fail 20% of all calls with
// Unavailable at random, under the built-in attempt counts (4 for ml and for ocr). Every
// verification must end within the budget, and a step may fail only once the stub has seen
// the profile's max_attempts for it: no call a retry could have saved is given up.
func TestRandomUnavailableFailsOnlyWhenRetriesRunOut(t *testing.T) {
	// Ten failures in a row would open a breaker: at 20% that is a 1e-7 chance per attempt.
	yaml := strings.ReplaceAll(quickRetries, "}}\n", "}}\n    breaker: {consecutive_failures: 10}\n")
	h := newHarness(t, yaml, stub.Faults{
		Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 0.2}, Latency: 2 * time.Millisecond,
	})
	const n = 60
	resps := make([]*kycv1.VerifyResponse, n)
	parallel(n, 6, func(i int) { resps[i] = h.verify(t, kyc.Request(int64(i+1), kyc.CaseGenuine)) })

	failedSteps, retried := 0, 0
	for _, resp := range resps {
		if d := kyc.Elapsed(resp); d >= kyc.DefaultBudget {
			t.Errorf("%s took %v, beyond the 8s budget", resp.GetVerificationId(), d)
		}
		for _, st := range allSteps {
			o := stepOf(t, resp, st)
			got := h.stubFor(st).Attempts(methods[st], resp.GetVerificationId())
			if int(o.GetAttempts()) != got {
				t.Errorf("%s %v: step reports %d attempts, stub counted %d", resp.GetVerificationId(), st, o.GetAttempts(), got)
			}
			if got > 1 {
				retried++
			}
			if o.GetStatus() != kycv1.StepStatus_STEP_STATUS_FAILED {
				continue
			}
			failedSteps++
			maxAttempts := h.suite.Policy(methods[st]).Retry.MaxAttempts
			if o.GetCode() != "UNAVAILABLE" || got != maxAttempts {
				t.Errorf("a retry could have saved it: %s (stub saw %d attempts, profile allows %d)", describe(resp), got, maxAttempts)
			}
		}
		if resp.GetDecision() == kycv1.Decision_DECISION_REJECTED {
			t.Errorf("genuine applicant rejected: %s", describe(resp))
		}
	}
	unavailable := 0
	for _, st := range allSteps {
		unavailable += h.stubFor(st).Requests(methods[st], grpccodes.Unavailable)
	}
	if unavailable == 0 || retried == 0 {
		t.Fatalf("no fault injected (unavailable %d, retried steps %d)", unavailable, retried)
	}
	t.Logf("%d verifications: %d Unavailable answers, %d steps retried, %d steps failed after max attempts",
		n, unavailable, retried, failedSteps)
}

// TestUnreadableDocumentIsRejectedAfterOneAttempt: DOCUMENT_UNREADABLE is a business answer,
// never retried, and it does not count against the OCR breaker.
func TestUnreadableDocumentIsRejectedAfterOneAttempt(t *testing.T) {
	h := newHarness(t, quickRetries, stub.Faults{Latency: 2 * time.Millisecond})
	resp := h.verify(t, kyc.Request(7, kyc.CaseUnreadable))
	if resp.GetDecision() != kycv1.Decision_DECISION_REJECTED {
		t.Fatalf("want REJECTED: %s", describe(resp))
	}
	if !containsStr(resp.GetRejectionReasons(), stub.ReasonDocumentUnreadable) {
		t.Errorf("reasons %v lack %s", resp.GetRejectionReasons(), stub.ReasonDocumentUnreadable)
	}
	ocr := h.stubs[svcOCR]
	if got := ocr.Attempts(stub.MethodExtract, resp.GetVerificationId()); got != 1 {
		t.Errorf("stub counted %d OCR attempts, want 1", got)
	}
	if got := ocr.Requests(stub.MethodExtract, grpccodes.InvalidArgument); got != 1 {
		t.Errorf("stub answered %d InvalidArgument, want 1", got)
	}
	if got := requestsTotal(ocr, stub.MethodExtract); got != 1 {
		t.Errorf("stub saw %d OCR requests, want 1", got)
	}
	o := stepOf(t, resp, kycv1.Step_STEP_OCR)
	if o.GetStatus() != kycv1.StepStatus_STEP_STATUS_REJECTED || o.GetCode() != "INVALID_ARGUMENT" ||
		o.GetReason() != stub.ReasonDocumentUnreadable || o.GetAttempts() != 1 {
		t.Errorf("OCR step: %s", describe(resp))
	}
	b, ok := h.breakers.Lookup(svcOCR)
	if !ok {
		t.Fatal("no OCR breaker")
	}
	if st := b.Stats(); st.Failures != 0 || st.State.String() != "closed" {
		t.Errorf("OCR breaker counted a business answer as a failure: %+v", st)
	}
	if got := metric(t, h.reg, "bulwark_retries_total", map[string]string{"service": svcOCR}); got != 0 {
		t.Errorf("bulwark_retries_total{ocr} = %v, want 0", got)
	}
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
