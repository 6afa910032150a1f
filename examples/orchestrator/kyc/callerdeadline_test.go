package kyc_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestStepCutByTheCallersDeadlineRanOutOfTime: a step that the caller's deadline cut (its
// client returned the UNAVAILABLE of the attempt before, as a retry cut in its backoff does)
// ran out of time: it reports DEADLINE_EXCEEDED, reason DEADLINE, and the verification is
// answered DeadlineExceeded, as Server promises for steps that ran out of time. The steps kept
// their last attempt's UNAVAILABLE and the verification was answered Unavailable.
func TestStepCutByTheCallersDeadlineRanOutOfTime(t *testing.T) {
	c := cutClients{entered: make(chan kycv1.Step, 2)}
	v := &kyc.Verifier{Liveness: c, FaceMatch: c, OCR: c}
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	_, err := kyc.NewServer(v, nil, 0).Verify(ctx, kyc.Request(1, kyc.CaseGenuine))
	if status.Code(err) != grpccodes.DeadlineExceeded {
		t.Errorf("Verify: %v, want DeadlineExceeded", err)
	}
	md := errorInfo(err).GetMetadata()
	for _, k := range []string{kyc.KeyLiveness, kyc.KeyFaceMatch, kyc.KeyOCR} {
		if md[k] != "DEADLINE_EXCEEDED DEADLINE" {
			t.Errorf("ErrorInfo metadata %s: %q, want %q", k, md[k], "DEADLINE_EXCEEDED DEADLINE")
		}
	}
	if want := kyc.KeyLiveness + "," + kyc.KeyFaceMatch + "," + kyc.KeyOCR; md["failed_steps"] != want || md["cancelled_steps"] != "" {
		t.Errorf("ErrorInfo metadata %v: want failed_steps %s, no cancelled_steps", md, want)
	}
}
