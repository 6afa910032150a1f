package kyc_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestTableSaysWhatItsFiguresCount: the table's rejected row says that its reasons count
// steps, several of which may reject one verification (an unreadable document read "18
// rejected" beside 28 reasons), and its decided row says what its percentage is of: the
// arrivals that ended or were shed, where the rows below it are shares of the verifications
// that ended (a shed batch read "decided 1 3.3%" above "approved 1 100.0%").
func TestTableSaysWhatItsFiguresCount(t *testing.T) {
	rejecting := func(s kycv1.Step, reason string) *kycv1.StepOutcome {
		return &kycv1.StepOutcome{Step: s, Status: kycv1.StepStatus_STEP_STATUS_REJECTED, Code: "OK", Reason: reason}
	}
	unreadable := &kycv1.VerifyResponse{Decision: kycv1.Decision_DECISION_REJECTED, Elapsed: durationpb.New(time.Millisecond),
		Steps: []*kycv1.StepOutcome{
			rejecting(kycv1.Step_STEP_FACE_MATCH, "FACE_NOT_DETECTED"), rejecting(kycv1.Step_STEP_OCR, "DOCUMENT_UNREADABLE"),
		}}
	s := kyc.SummarizeResult(kyc.Result{
		Responses: []*kycv1.VerifyResponse{unreadable, nil},
		Arrivals:  []kyc.Arrival{kyc.ArrivalDone, kyc.ArrivalShed},
		Elapsed:   time.Second, Rate: 10, InFlightLimit: 1, MaxInFlight: 1,
	}, nil)
	var b bytes.Buffer
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = strings.Join(f, " ")
		}
	}
	if r := rows["rejected"]; !strings.Contains(r, "one verification may count under several") {
		t.Errorf("the rejected row does not say one verification may have several rejecting steps:\n%s", r)
	}
	if r := rows["decided"]; !strings.Contains(r, "50.0% of approved + rejected + failed + shed") {
		t.Errorf("the decided row does not say what its 50%% is of:\n%s", r)
	}
}
