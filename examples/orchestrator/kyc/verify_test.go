package kyc_test

import (
	"strings"

	"context"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/status"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// verifier dials one stub serving the three services with a plain connection: the decisions
// do not depend on the suite.
func verifier(t *testing.T) *kyc.Verifier {
	t.Helper()
	s, err := stub.Start(context.Background(), stub.Config{StopTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return kyc.NewVerifier(cc, cc, cc)
}

func TestDecisions(t *testing.T) {
	v := verifier(t)
	tests := []struct {
		c           kyc.Case
		want        kycv1.Decision
		wantReasons []string
	}{
		{kyc.CaseGenuine, kycv1.Decision_DECISION_APPROVED, nil},
		{kyc.CaseUnreadable, kycv1.Decision_DECISION_REJECTED, []string{stub.ReasonFaceNotDetected, stub.ReasonDocumentUnreadable}},
		{kyc.CaseSpoof, kycv1.Decision_DECISION_REJECTED, []string{kyc.ReasonSpoofDetected}},
		{kyc.CaseMismatch, kycv1.Decision_DECISION_REJECTED, []string{kyc.ReasonFaceMismatch}},
		{kyc.CaseExpired, kycv1.Decision_DECISION_REJECTED, []string{kyc.ReasonDocumentExpired}},
	}
	for _, tt := range tests {
		resp, err := v.Verify(context.Background(), kyc.Request(42, tt.c))
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetDecision() != tt.want || !slices.Equal(resp.GetRejectionReasons(), tt.wantReasons) {
			t.Errorf("case %d: %v %v, want %v %v", tt.c, resp.GetDecision(), resp.GetRejectionReasons(), tt.want, tt.wantReasons)
		}
		if len(resp.GetSteps()) != 3 || resp.GetVerificationId() != "v-42" {
			t.Errorf("case %d: steps %v", tt.c, resp.GetSteps())
		}
		for _, o := range resp.GetSteps() {
			if o.GetAttempts() != 1 || o.GetDuration() == nil {
				t.Errorf("case %d: step %v", tt.c, o)
			}
		}
	}
}

// TestUnreachableServiceFails: a step that gets no answer makes the decision FAILED, within
// the budget.
func TestUnreachableServiceFails(t *testing.T) {
	v := verifier(t)
	cc, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	v.OCR = kycv1.NewOCRServiceClient(cc)
	v.Budget = 200 * time.Millisecond
	resp, _ := v.Verify(context.Background(), kyc.Request(1, kyc.CaseGenuine))
	ocr := resp.GetSteps()[2]
	if resp.GetDecision() != kycv1.Decision_DECISION_FAILED || ocr.GetStatus() != kycv1.StepStatus_STEP_STATUS_FAILED {
		t.Errorf("got %v, OCR %v", resp.GetDecision(), ocr)
	}
	if d := kyc.Elapsed(resp); d > time.Second {
		t.Errorf("took %v with a 200ms budget", d)
	}
}

func TestCodeName(t *testing.T) {
	for c, want := range map[grpccodes.Code]string{
		grpccodes.OK: "OK", grpccodes.Unavailable: "UNAVAILABLE", grpccodes.DeadlineExceeded: "DEADLINE_EXCEEDED",
		grpccodes.ResourceExhausted: "RESOURCE_EXHAUSTED", grpccodes.InvalidArgument: "INVALID_ARGUMENT",
	} {
		if got := kyc.CodeName(c); got != want {
			t.Errorf("CodeName(%v) = %q, want %q", c, got, want)
		}
	}
}

// TestCodeNameCanonical: StepOutcome.code is documented as the canonical gRPC code name, which
// spells code 1 CANCELLED (grpc-go's Go identifier, Canceled, does not).
func TestCodeNameCanonical(t *testing.T) {
	canonical := []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
		"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
	for c, want := range canonical {
		if got := kyc.CodeName(grpccodes.Code(c)); got != want {
			t.Errorf("CodeName(%d) = %q, want %q", c, got, want)
		}
	}
}

func TestSummarizeQuantiles(t *testing.T) {
	var resps []*kycv1.VerifyResponse
	for i := 1; i <= 100; i++ {
		resps = append(resps, &kycv1.VerifyResponse{Decision: kycv1.Decision_DECISION_APPROVED,
			Elapsed: durationpb.New(time.Duration(i) * time.Millisecond)})
	}
	s := kyc.Summarize(append(resps, nil), time.Second, nil)
	if s.Total != 100 || s.P50Ms != 50 || s.P99Ms != 99 || s.MaxMs != 100 || len(s.Services) != 3 {
		t.Errorf("summary %+v", s)
	}
}

func TestUndecidedErrorCode(t *testing.T) {
	step := func(s kycv1.Step, code string) *kycv1.StepOutcome {
		return &kycv1.StepOutcome{Step: s, Status: kycv1.StepStatus_STEP_STATUS_FAILED, Code: code}
	}
	for _, tt := range []struct {
		steps []*kycv1.StepOutcome
		want  grpccodes.Code
	}{
		{[]*kycv1.StepOutcome{step(kycv1.Step_STEP_OCR, "DEADLINE_EXCEEDED")}, grpccodes.DeadlineExceeded},
		{[]*kycv1.StepOutcome{step(kycv1.Step_STEP_OCR, "DEADLINE_EXCEEDED"), step(kycv1.Step_STEP_LIVENESS, "UNAVAILABLE")}, grpccodes.Unavailable},
	} {
		err := kyc.UndecidedError(&kycv1.VerifyResponse{Decision: kycv1.Decision_DECISION_FAILED, Steps: tt.steps}, time.Second)
		if got := status.Code(err); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.steps, got, tt.want)
		}
	}
}

func TestDecisionMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := kyc.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []kycv1.Decision{kycv1.Decision_DECISION_APPROVED, kycv1.Decision_DECISION_APPROVED, kycv1.Decision_DECISION_FAILED} {
		m.Observe(&kycv1.VerifyResponse{Decision: d, Elapsed: durationpb.New(30 * time.Millisecond)})
	}
	var nilMetrics *kyc.Metrics
	nilMetrics.Observe(&kycv1.VerifyResponse{}) // records nothing, does not panic
	want := `
# HELP kyc_verifications_total Verifications ended, by decision (approved, rejected: decided; failed: undecided).
# TYPE kyc_verifications_total counter
kyc_verifications_total{decision="approved"} 2
kyc_verifications_total{decision="failed"} 1
kyc_verifications_total{decision="rejected"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kyc_verifications_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "kyc_verification_duration_seconds"); n != 3 {
		t.Errorf("%d duration series, want 3", n)
	}
}

// TestExpiryJudgedOnTheLocalDate: a document is valid through its expiry date, the calendar day
// where the check runs (the zone of Verifier.Now's time). The date was read as UTC midnight, so
// east of UTC a document stayed valid into the morning after its expiry day, and west of UTC it
// was refused on the evening of its last valid day.
func TestExpiryJudgedOnTheLocalDate(t *testing.T) {
	east := time.FixedZone("UTC+10", 10*3600)
	west := time.FixedZone("UTC-8", -8*3600)
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 3, 11, 5, 0, 0, 0, east), kyc.ReasonDocumentExpired}, // the day after, 2026-03-10 19:00 UTC
		{time.Date(2026, 3, 10, 23, 59, 0, 0, east), ""},
		{time.Date(2026, 3, 10, 20, 0, 0, 0, west), ""}, // the expiry day, 2026-03-11 04:00 UTC
		{time.Date(2026, 3, 11, 0, 0, 0, 0, west), kyc.ReasonDocumentExpired},
		{time.Date(2026, 3, 10, 23, 59, 59, 0, time.UTC), ""},
		{time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC), kyc.ReasonDocumentExpired},
	} {
		v := &kyc.Verifier{Now: func() time.Time { return tt.now }}
		if got := v.ExpiryReason("2026-03-10"); got != tt.want {
			t.Errorf("expiry 2026-03-10 judged at %v: reason %q, want %q", tt.now, got, tt.want)
		}
	}
}
