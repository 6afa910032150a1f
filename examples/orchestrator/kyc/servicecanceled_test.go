package kyc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// answerOCR answers every extraction with its error.
type answerOCR struct{ err error }

func (o answerOCR) Extract(context.Context, *kycv1.ExtractRequest, ...grpc.CallOption) (*kycv1.ExtractResponse, error) {
	return nil, o.err
}

// errorInfo returns the ErrorInfo detail of err's status, nil when it has none.
func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			return i
		}
	}
	return nil
}

// TestServiceCancelledIsAFailedStep: a service that answers CANCELLED itself, its caller's
// context still live, failed the step for real: the verification is counted failed, and its
// error lists the step under failed_steps and is Unavailable (retryable), as for any other
// failure. It was listed as cut by the caller (cancelled_steps, or the error Canceled when no
// other step failed), while the metrics counted it failed.
func TestServiceCancelledIsAFailedStep(t *testing.T) {
	for _, tt := range []struct {
		name       string
		liveness   kycv1.LivenessVerdict
		wantFailed string
	}{
		{"alone", kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE, kyc.KeyOCR},
		{"with a verdict without meaning", kycv1.LivenessVerdict_LIVENESS_VERDICT_UNSPECIFIED, kyc.KeyLiveness + "," + kyc.KeyOCR},
	} {
		v := &kyc.Verifier{
			Liveness:  verdictLiveness{tt.liveness},
			FaceMatch: verdictFaceMatch{kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH},
			OCR:       answerOCR{status.Error(grpccodes.Canceled, "the service shut down its worker")},
		}
		reg := prometheus.NewRegistry()
		m, err := kyc.NewMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = kyc.NewServer(v, m, 0).Verify(context.Background(), kyc.Request(1, kyc.CaseGenuine))
		if status.Code(err) != grpccodes.Unavailable {
			t.Errorf("%s: Verify: %v, want Unavailable", tt.name, err)
		}
		md := errorInfo(err).GetMetadata()
		if md["failed_steps"] != tt.wantFailed || md["cancelled_steps"] != "" {
			t.Errorf("%s: ErrorInfo metadata %v: want failed_steps %s, no cancelled_steps", tt.name, md, tt.wantFailed)
		}
		want := `
# HELP kyc_verifications_total Verifications ended, by decision (approved, rejected: decided; failed: undecided).
# TYPE kyc_verifications_total counter
kyc_verifications_total{decision="approved"} 0
kyc_verifications_total{decision="failed"} 1
kyc_verifications_total{decision="rejected"} 0
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kyc_verifications_total"); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
