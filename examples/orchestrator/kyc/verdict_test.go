package kyc_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// verdictLiveness answers every check with its verdict.
type verdictLiveness struct{ verdict kycv1.LivenessVerdict }

func (l verdictLiveness) Check(context.Context, ...grpc.CallOption) (grpc.ClientStreamingClient[kycv1.CheckRequest, kycv1.CheckResponse], error) {
	return verdictStream(l), nil
}

type verdictStream struct {
	verdict kycv1.LivenessVerdict
}

func (verdictStream) Send(*kycv1.CheckRequest) error { return nil }
func (s verdictStream) CloseAndRecv() (*kycv1.CheckResponse, error) {
	return &kycv1.CheckResponse{Verdict: s.verdict}, nil
}

// The rest of grpc.ClientStream, unused by the verifier.
func (verdictStream) Header() (metadata.MD, error) { return nil, nil }
func (verdictStream) Trailer() metadata.MD         { return nil }
func (verdictStream) CloseSend() error             { return nil }
func (verdictStream) Context() context.Context     { return context.Background() }
func (verdictStream) SendMsg(any) error            { return nil }
func (verdictStream) RecvMsg(any) error            { return nil }

// verdictFaceMatch answers every comparison with its verdict.
type verdictFaceMatch struct{ verdict kycv1.FaceMatchVerdict }

func (f verdictFaceMatch) Compare(context.Context, *kycv1.CompareRequest, ...grpc.CallOption) (*kycv1.CompareResponse, error) {
	return &kycv1.CompareResponse{Verdict: f.verdict}, nil
}

// reasonVerdictUnknown is kyc.ReasonVerdictUnknown, spelled out.
const reasonVerdictUnknown = "VERDICT_UNKNOWN"

// TestVerdictWithoutMeaningIsNoAnswer: a reply whose verdict is neither a pass nor a
// rejection (UNSPECIFIED, which no healthy service returns, or a value this build does not
// know, from a newer service) is no answer about the applicant: the step is FAILED, reason
// VERDICT_UNKNOWN, and the verification FAILED (retryable). Anything but LIVE was taken as
// SPOOF_DETECTED, and anything but MATCH as FACE_MISMATCH: the applicant was REJECTED for
// good on a broken or newer service's reply.
func TestVerdictWithoutMeaningIsNoAnswer(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(v *kyc.Verifier)
		step int
	}{
		{"liveness unspecified", func(v *kyc.Verifier) {
			v.Liveness = verdictLiveness{kycv1.LivenessVerdict_LIVENESS_VERDICT_UNSPECIFIED}
		}, 0},
		{"liveness unknown", func(v *kyc.Verifier) { v.Liveness = verdictLiveness{kycv1.LivenessVerdict(7)} }, 0},
		{"face match unspecified", func(v *kyc.Verifier) {
			v.FaceMatch = verdictFaceMatch{kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_UNSPECIFIED}
		}, 1},
		{"face match unknown", func(v *kyc.Verifier) { v.FaceMatch = verdictFaceMatch{kycv1.FaceMatchVerdict(7)} }, 1},
	} {
		v := verifier(t)
		tt.set(v)
		resp, _ := v.Verify(context.Background(), kyc.Request(3, kyc.CaseGenuine))
		st := resp.GetSteps()[tt.step]
		if resp.GetDecision() != kycv1.Decision_DECISION_FAILED || st.GetStatus() != kycv1.StepStatus_STEP_STATUS_FAILED ||
			st.GetReason() != reasonVerdictUnknown {
			t.Errorf("%s: decision %v %v, step %v; want FAILED, the step FAILED %s",
				tt.name, resp.GetDecision(), resp.GetRejectionReasons(), st, reasonVerdictUnknown)
		}
	}
	// The known verdicts still decide.
	v := verifier(t)
	v.Liveness = verdictLiveness{kycv1.LivenessVerdict_LIVENESS_VERDICT_SPOOF}
	v.FaceMatch = verdictFaceMatch{kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_NO_MATCH}
	resp, _ := v.Verify(context.Background(), kyc.Request(3, kyc.CaseGenuine))
	if resp.GetDecision() != kycv1.Decision_DECISION_REJECTED || len(resp.GetRejectionReasons()) != 2 {
		t.Errorf("SPOOF and NO_MATCH: %v %v, want REJECTED for %s and %s", resp.GetDecision(), resp.GetRejectionReasons(),
			kyc.ReasonSpoofDetected, kyc.ReasonFaceMismatch)
	}
}
