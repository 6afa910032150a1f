package kyc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// answerFaceMatch answers every comparison with err.
type answerFaceMatch struct{ err error }

func (f answerFaceMatch) Compare(context.Context, *kycv1.CompareRequest, ...grpc.CallOption) (*kycv1.CompareResponse, error) {
	return nil, f.err
}

// TestRejectionWinsOverFailure: a business answer against the applicant decides REJECTED even
// when another step got no answer: a retry would get the same rejection.
func TestRejectionWinsOverFailure(t *testing.T) {
	v := kyc.NewVerifier(nil, nil, nil)
	v.Liveness = verdictLiveness{kycv1.LivenessVerdict_LIVENESS_VERDICT_SPOOF}
	v.FaceMatch = answerFaceMatch{status.Error(grpccodes.Unavailable, "down")}
	v.OCR = instant{}
	resp, _ := v.Verify(context.Background(), kyc.Request(5, kyc.CaseGenuine))
	fm := resp.GetSteps()[1]
	if resp.GetDecision() != kycv1.Decision_DECISION_REJECTED ||
		!slices.Equal(resp.GetRejectionReasons(), []string{kyc.ReasonSpoofDetected}) ||
		fm.GetStatus() != kycv1.StepStatus_STEP_STATUS_FAILED || fm.GetCode() != "UNAVAILABLE" {
		t.Errorf("SPOOF and face match UNAVAILABLE: %v %v, face match %v; want REJECTED [%s], face match FAILED UNAVAILABLE",
			resp.GetDecision(), resp.GetRejectionReasons(), fm, kyc.ReasonSpoofDetected)
	}
}

// TestBusinessErrorWithoutReasonIsNamedByItsCode: a business error that carries no ErrorInfo
// reason rejects under its code's name, and a reason two steps share is listed once.
func TestBusinessErrorWithoutReasonIsNamedByItsCode(t *testing.T) {
	bad := status.Error(grpccodes.InvalidArgument, "bad image")
	v := kyc.NewVerifier(nil, nil, nil)
	v.Liveness = instant{}
	v.FaceMatch = answerFaceMatch{bad}
	v.OCR = answerOCR{bad}
	resp, _ := v.Verify(context.Background(), kyc.Request(6, kyc.CaseGenuine))
	if resp.GetDecision() != kycv1.Decision_DECISION_REJECTED ||
		!slices.Equal(resp.GetRejectionReasons(), []string{"INVALID_ARGUMENT"}) {
		t.Errorf("two steps INVALID_ARGUMENT without a reason: %v %v, want REJECTED [INVALID_ARGUMENT]",
			resp.GetDecision(), resp.GetRejectionReasons())
	}
	for _, st := range resp.GetSteps()[1:] {
		if st.GetStatus() != kycv1.StepStatus_STEP_STATUS_REJECTED || st.GetReason() != "INVALID_ARGUMENT" {
			t.Errorf("step %v, want REJECTED reason INVALID_ARGUMENT", st)
		}
	}
}

// cancellingLiveness cancels the caller's context, then answers with a verdict that neither
// passes nor rejects.
type cancellingLiveness struct{ cancel context.CancelFunc }

func (l cancellingLiveness) Check(context.Context, ...grpc.CallOption) (grpc.ClientStreamingClient[kycv1.CheckRequest, kycv1.CheckResponse], error) {
	l.cancel()
	return verdictStream{kycv1.LivenessVerdict_LIVENESS_VERDICT_UNSPECIFIED}, nil
}

// TestVerdictUnknownIsNotCutByTheCaller: a service's reply without a meaningful verdict is the
// service's answer, not a cut: it stays OK, VERDICT_UNKNOWN, even when the caller cancelled
// before the step ended.
func TestVerdictUnknownIsNotCutByTheCaller(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := kyc.NewVerifier(nil, nil, nil)
	v.Liveness = cancellingLiveness{cancel}
	v.FaceMatch, v.OCR = instant{}, instant{}
	resp, _ := v.Verify(ctx, kyc.Request(8, kyc.CaseGenuine))
	lv := resp.GetSteps()[0]
	if resp.GetDecision() != kycv1.Decision_DECISION_FAILED || lv.GetStatus() != kycv1.StepStatus_STEP_STATUS_FAILED ||
		lv.GetCode() != "OK" || lv.GetReason() != reasonVerdictUnknown {
		t.Errorf("UNSPECIFIED liveness after the caller's cancel: %v, liveness %v; want FAILED, liveness FAILED OK %s",
			resp.GetDecision(), lv, reasonVerdictUnknown)
	}
}

// TestFailedStepSaysWhyRetryingStopped: a step whose retries ended without a policy's refusal
// names why retrying stopped, in capitals (MAX_ATTEMPTS).
func TestFailedStepSaysWhyRetryingStopped(t *testing.T) {
	down, err := stub.Start(context.Background(), stub.Config{
		Services: []string{stub.ServiceOCR}, StopTimeout: time.Second,
		Faults: stub.Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Stop)
	rt, err := retry.UnaryClientInterceptor(retry.Config{MaxAttempts: 1, Idempotent: true})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(down.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(rt))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	v := kyc.NewVerifier(nil, nil, nil)
	v.Liveness, v.FaceMatch = instant{}, instant{}
	v.OCR = kycv1.NewOCRServiceClient(cc)
	resp, _ := v.Verify(context.Background(), kyc.Request(9, kyc.CaseGenuine))
	ocr := resp.GetSteps()[2]
	if resp.GetDecision() != kycv1.Decision_DECISION_FAILED || ocr.GetCode() != "UNAVAILABLE" ||
		ocr.GetReason() != "MAX_ATTEMPTS" || ocr.GetAttempts() != 1 {
		t.Errorf("OCR always UNAVAILABLE, one attempt: %v, OCR %v; want FAILED, OCR UNAVAILABLE MAX_ATTEMPTS after 1 attempt",
			resp.GetDecision(), ocr)
	}
}
