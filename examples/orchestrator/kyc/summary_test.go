package kyc_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestSummarizeCountsEveryArrival: each arrival counts once, by what became of it. Decided are
// approved and rejected (a rejection wins over a failed step of the same verification);
// failed are verifications undecided while the batch ran; cancelled (cut short by an
// interruption) and not started are apart; shed arrivals count against the decided share and
// as arrivals lost, with the failed ones.
func TestSummarizeCountsEveryArrival(t *testing.T) {
	resp := func(d kycv1.Decision, steps ...*kycv1.StepOutcome) *kycv1.VerifyResponse {
		return &kycv1.VerifyResponse{Decision: d, Steps: steps, Elapsed: durationpb.New(10 * time.Millisecond)}
	}
	step := func(s kycv1.Step, st kycv1.StepStatus, code, reason string) *kycv1.StepOutcome {
		return &kycv1.StepOutcome{Step: s, Status: st, Code: code, Reason: reason}
	}
	failedOCR := step(kycv1.Step_STEP_OCR, kycv1.StepStatus_STEP_STATUS_FAILED, "UNAVAILABLE", "MAX_ATTEMPTS")
	res := kyc.Result{
		Responses: []*kycv1.VerifyResponse{
			resp(kycv1.Decision_DECISION_APPROVED),
			resp(kycv1.Decision_DECISION_APPROVED),
			resp(kycv1.Decision_DECISION_REJECTED,
				step(kycv1.Step_STEP_LIVENESS, kycv1.StepStatus_STEP_STATUS_REJECTED, "OK", "SPOOF_DETECTED"), failedOCR),
			resp(kycv1.Decision_DECISION_FAILED, failedOCR),
			resp(kycv1.Decision_DECISION_FAILED, failedOCR), // cancelled
			nil, // shed
			nil, // not started
		},
		Arrivals: []kyc.Arrival{kyc.ArrivalDone, kyc.ArrivalDone, kyc.ArrivalDone, kyc.ArrivalDone,
			kyc.ArrivalCancelled, kyc.ArrivalShed, kyc.ArrivalNotStarted},
		Elapsed: 2 * time.Second, Rate: 4, Interrupted: true,
	}
	s := kyc.SummarizeResult(res, nil)
	got := [...]int{s.Total, s.Approved, s.Rejected, s.Failed, s.Cancelled, s.Shed, s.NotStarted}
	if want := [...]int{5, 2, 1, 1, 1, 1, 1}; got != want {
		t.Errorf("total, approved, rejected, failed, cancelled, shed, not started = %v, want %v", got, want)
	}
	// 3 decided of 3 decided + 1 failed + 1 shed.
	if s.DecidedPct != 60 || s.DecidedPerS != 1.5 || s.ThroughputPerS != 2.5 || s.ArrivalsLostS != 0.5 {
		t.Errorf("decided %v%%, %v/s, throughput %v/s, arrivals lost %vs; want 60%%, 1.5/s, 2.5/s, 0.5s",
			s.DecidedPct, s.DecidedPerS, s.ThroughputPerS, s.ArrivalsLostS)
	}
	if n := s.RejectedReasons["liveness: SPOOF_DETECTED"]; n != 1 || len(s.RejectedReasons) != 1 {
		t.Errorf("rejected reasons %v, want liveness: SPOOF_DETECTED once", s.RejectedReasons)
	}
	// The failed step of the rejected and of the cancelled verifications are not counted.
	if n := s.FailedReasons["ocr: UNAVAILABLE MAX_ATTEMPTS"]; n != 1 || len(s.FailedReasons) != 1 {
		t.Errorf("failed reasons %v, want ocr: UNAVAILABLE MAX_ATTEMPTS once", s.FailedReasons)
	}
	if s.Mode != "open" || !s.Interrupted {
		t.Errorf("mode %q, interrupted %v; want open, true", s.Mode, s.Interrupted)
	}
}

// TestSummarizeMarksACutShortBatch: Summarize leaves out the nil responses of a batch that
// Batch.Run stopped early, and says the summary is partial, as SummarizeResult does for the
// same batch: it reported interrupted false, and WriteTable printed a short batch as complete.
func TestSummarizeMarksACutShortBatch(t *testing.T) {
	done := &kycv1.VerifyResponse{Decision: kycv1.Decision_DECISION_APPROVED, Elapsed: durationpb.New(time.Millisecond)}
	s := kyc.Summarize([]*kycv1.VerifyResponse{done, nil}, time.Second, nil)
	if s.Total != 1 || s.NotStarted != 1 || !s.Interrupted {
		t.Errorf("total %d, not started %d, interrupted %v; want 1, 1, true", s.Total, s.NotStarted, s.Interrupted)
	}
	if s := kyc.Summarize([]*kycv1.VerifyResponse{done}, time.Second, nil); s.Interrupted {
		t.Error("a whole batch is summarized as interrupted")
	}
}
