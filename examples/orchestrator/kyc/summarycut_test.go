package kyc_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestSummaryFailedStepsLeaveOutTheCutOnes: a verification that failed before an interruption
// cut its other steps counts as failed, and its failed steps are those that failed, as the
// server's error lists them (failed_steps; the cut ones apart): the steps the cancel cut
// (CANCELLED, reason CALLER_CANCELLED) were counted as failed steps. A service's own CANCELLED
// answer still counts.
func TestSummaryFailedStepsLeaveOutTheCutOnes(t *testing.T) {
	step := func(s kycv1.Step, code, reason string) *kycv1.StepOutcome {
		return &kycv1.StepOutcome{Step: s, Status: kycv1.StepStatus_STEP_STATUS_FAILED, Code: code, Reason: reason}
	}
	res := kyc.Result{
		Responses: []*kycv1.VerifyResponse{
			{Decision: kycv1.Decision_DECISION_FAILED, Elapsed: durationpb.New(time.Millisecond), Steps: []*kycv1.StepOutcome{
				step(kycv1.Step_STEP_LIVENESS, "CANCELLED", kyc.ReasonCallerCancelled),
				step(kycv1.Step_STEP_FACE_MATCH, "CANCELLED", ""),
				step(kycv1.Step_STEP_OCR, "UNAVAILABLE", "MAX_ATTEMPTS"),
			}},
		},
		Arrivals: []kyc.Arrival{kyc.ArrivalDone},
		Elapsed:  time.Second, Interrupted: true,
	}
	s := kyc.SummarizeResult(res, nil)
	if s.Failed != 1 || len(s.FailedReasons) != 2 || s.FailedReasons["ocr: UNAVAILABLE MAX_ATTEMPTS"] != 1 ||
		s.FailedReasons["facematch: CANCELLED"] != 1 {
		t.Errorf("failed %d, failed steps %v; want 1, ocr: UNAVAILABLE MAX_ATTEMPTS and facematch: CANCELLED once each",
			s.Failed, s.FailedReasons)
	}
}
