package kyc_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// TestFallbackReplyIsNotAnAnswer: a step whose call a fallback answered (its service was down)
// got no answer from the service. The verification is FAILED, the step FAILED with reason
// FALLBACK and the replaced code: the fallback's made-up fields must neither approve the
// applicant (a reply with a valid expiry date was APPROVED) nor reject them (the empty
// reply of config/examples/strict.yaml was REJECTED as DOCUMENT_EXPIRY_INVALID).
func TestFallbackReplyIsNotAnAnswer(t *testing.T) {
	down, err := stub.Start(context.Background(), stub.Config{
		Services: []string{stub.ServiceOCR}, StopTimeout: time.Second,
		Faults: stub.Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Stop)
	for _, reply := range []string{
		`{}`,
		`{"fields": {"expiryDate": "2099-01-01", "surname": "FALLBACK"}, "confidence": 1}`,
	} {
		v := verifier(t)
		fb, err := fallback.UnaryClientInterceptor(kycv1.OCRService_Extract_FullMethodName, fallback.Config{ReplyJSON: reply}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := grpc.NewClient(down.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithUnaryInterceptor(fb))
		if err != nil {
			t.Fatal(err)
		}
		v.OCR = kycv1.NewOCRServiceClient(cc)
		resp, _ := v.Verify(context.Background(), kyc.Request(7, kyc.CaseGenuine))
		_ = cc.Close()
		ocr := resp.GetSteps()[2]
		if resp.GetDecision() != kycv1.Decision_DECISION_FAILED || ocr.GetStatus() != kycv1.StepStatus_STEP_STATUS_FAILED ||
			ocr.GetCode() != "UNAVAILABLE" || ocr.GetReason() != kyc.ReasonFallback {
			t.Errorf("reply %s: decision %v %v, OCR step %v; want FAILED, the step FAILED UNAVAILABLE %s",
				reply, resp.GetDecision(), resp.GetRejectionReasons(), ocr, kyc.ReasonFallback)
		}
	}
}
