package kyc_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestUndecidedByTheBudgetIsDeadlineExceeded: a verification the 8 s budget ended is answered
// DeadlineExceeded whether each step's time ran out during an attempt (DEADLINE_EXCEEDED) or
// while its retry waited to try again (the last attempt's code, reason BUDGET or DEADLINE).
// The second was answered Unavailable: the same verification, ended by the same budget, got
// one code or the other by where in its retry schedule the time ran out. A step that stopped
// for any other reason (attempts spent, a breaker open) still makes it Unavailable.
func TestUndecidedByTheBudgetIsDeadlineExceeded(t *testing.T) {
	step := func(s kycv1.Step, code, reason string) *kycv1.StepOutcome {
		return &kycv1.StepOutcome{Step: s, Status: kycv1.StepStatus_STEP_STATUS_FAILED, Code: code, Reason: reason}
	}
	for _, tt := range []struct {
		steps []*kycv1.StepOutcome
		want  grpccodes.Code
	}{
		{[]*kycv1.StepOutcome{step(kycv1.Step_STEP_OCR, "UNAVAILABLE", "BUDGET")}, grpccodes.DeadlineExceeded},
		{[]*kycv1.StepOutcome{step(kycv1.Step_STEP_OCR, "RESOURCE_EXHAUSTED", "DEADLINE")}, grpccodes.DeadlineExceeded},
		{[]*kycv1.StepOutcome{step(kycv1.Step_STEP_OCR, "UNAVAILABLE", "BUDGET"), step(kycv1.Step_STEP_LIVENESS, "DEADLINE_EXCEEDED", "")}, grpccodes.DeadlineExceeded},
		{[]*kycv1.StepOutcome{step(kycv1.Step_STEP_OCR, "UNAVAILABLE", "BUDGET"), step(kycv1.Step_STEP_LIVENESS, "UNAVAILABLE", "MAX_ATTEMPTS")}, grpccodes.Unavailable},
		{[]*kycv1.StepOutcome{step(kycv1.Step_STEP_OCR, "UNAVAILABLE", "CIRCUIT_OPEN")}, grpccodes.Unavailable},
		{[]*kycv1.StepOutcome{step(kycv1.Step_STEP_OCR, "OK", kyc.ReasonVerdictUnknown)}, grpccodes.Unavailable},
	} {
		err := kyc.UndecidedError(&kycv1.VerifyResponse{Decision: kycv1.Decision_DECISION_FAILED, Steps: tt.steps}, time.Second)
		if got := status.Code(err); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.steps, got, tt.want)
		}
	}
}
