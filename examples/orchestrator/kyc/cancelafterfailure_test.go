package kyc_test

import (
	"context"
	"errors"
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

// cutClients are clients whose liveness and face-match calls wait for their context to end and
// then return the UNAVAILABLE of an attempt before, as a retry cut in its backoff does, and
// whose OCR call fails at once with UNAVAILABLE: a real failure.
type cutClients struct{ entered chan kycv1.Step }

func (c cutClients) Check(ctx context.Context, _ ...grpc.CallOption) (grpc.ClientStreamingClient[kycv1.CheckRequest, kycv1.CheckResponse], error) {
	c.entered <- kycv1.Step_STEP_LIVENESS
	<-ctx.Done()
	return nil, status.Error(grpccodes.Unavailable, "connection refused")
}

func (c cutClients) Compare(ctx context.Context, _ *kycv1.CompareRequest, _ ...grpc.CallOption) (*kycv1.CompareResponse, error) {
	c.entered <- kycv1.Step_STEP_FACE_MATCH
	<-ctx.Done()
	return nil, status.Error(grpccodes.Unavailable, "connection refused")
}

func (c cutClients) Extract(context.Context, *kycv1.ExtractRequest, ...grpc.CallOption) (*kycv1.ExtractResponse, error) {
	return nil, status.Error(grpccodes.Unavailable, "connection refused")
}

// cancelAfterOCRFails returns a verifier over cutClients and a context that is cancelled once
// the OCR step has failed (its end recorded) and the two other steps are in their calls.
func cancelAfterOCRFails(t *testing.T) (*kyc.Verifier, context.Context) {
	t.Helper()
	c := cutClients{entered: make(chan kycv1.Step, 2)}
	v := &kyc.Verifier{Liveness: c, FaceMatch: c, OCR: c}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v.SetStepEnded(func(st kycv1.Step) {
		if st == kycv1.Step_STEP_OCR {
			<-c.entered
			<-c.entered
			cancel()
		}
	})
	return v, ctx
}

// TestStepCutMidBackoffIsCancelled: a step whose call the caller's cancel cut reports
// CANCELLED, not the code of the attempt before (UNAVAILABLE), so that it can be told from a
// step that failed before the caller left.
func TestStepCutMidBackoffIsCancelled(t *testing.T) {
	v, ctx := cancelAfterOCRFails(t)
	resp, err := v.Verify(ctx, kyc.Request(1, kyc.CaseGenuine))
	if err != nil {
		t.Fatal(err)
	}
	want := map[kycv1.Step]string{
		kycv1.Step_STEP_LIVENESS:   "CANCELLED",
		kycv1.Step_STEP_FACE_MATCH: "CANCELLED",
		kycv1.Step_STEP_OCR:        "UNAVAILABLE",
	}
	for _, st := range resp.GetSteps() {
		if st.GetStatus() != kycv1.StepStatus_STEP_STATUS_FAILED || st.GetCode() != want[st.GetStep()] {
			t.Errorf("%s: %s %s, want FAILED %s", st.GetStep(), st.GetStatus(), st.GetCode(), want[st.GetStep()])
		}
	}
}

// TestServerCountsAFailureBeforeTheCallerLeft: a caller that cancels after a step failed for
// real gets the failure (Unavailable naming that step), and the metrics count it failed; the
// steps the cancel cut are listed apart.
func TestServerCountsAFailureBeforeTheCallerLeft(t *testing.T) {
	v, ctx := cancelAfterOCRFails(t)
	reg := prometheus.NewRegistry()
	m, err := kyc.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = kyc.NewServer(v, m, 0).Verify(ctx, kyc.Request(1, kyc.CaseGenuine))
	if status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("Verify: %v, want Unavailable", err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range status.Convert(err).Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if got := info.GetMetadata(); got["failed_steps"] != kyc.KeyOCR ||
		got["cancelled_steps"] != kyc.KeyLiveness+","+kyc.KeyFaceMatch {
		t.Errorf("ErrorInfo metadata %v: want failed_steps %s, cancelled_steps %s,%s", got, kyc.KeyOCR, kyc.KeyLiveness, kyc.KeyFaceMatch)
	}
	want := `
# HELP kyc_verifications_total Verifications ended, by decision (approved, rejected: decided; failed: undecided).
# TYPE kyc_verifications_total counter
kyc_verifications_total{decision="approved"} 0
kyc_verifications_total{decision="failed"} 1
kyc_verifications_total{decision="rejected"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kyc_verifications_total"); err != nil {
		t.Error(err)
	}
}

// TestBatchCountsAFailureBeforeTheInterruption: a verification of an interrupted batch where a
// step failed before the interruption is a failure (ArrivalDone, and Decided sees it), not
// cancelled.
func TestBatchCountsAFailureBeforeTheInterruption(t *testing.T) {
	v, ctx := cancelAfterOCRFails(t)
	decided := 0
	res := kyc.Batch{N: 1, Decided: func(*kycv1.VerifyResponse) { decided++ }}.RunResult(ctx, v)
	if res.Arrivals[0] != kyc.ArrivalDone || decided != 1 {
		t.Errorf("arrival %v, decided %d times: want ArrivalDone (%v), decided once", res.Arrivals[0], decided, kyc.ArrivalDone)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("the batch's context: %v, want cancelled during the batch", ctx.Err())
	}
}
