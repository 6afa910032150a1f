package stub

import (
	"context"
	"fmt"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// A genuine document stays valid for years after today, whatever year the stub runs in: the
// orchestrator judges expiry against the real date. Before, genuine documents expired between
// 2031 and 2035, so from 2031 on some genuine applicants would be rejected DOCUMENT_EXPIRED
// and the orchestrator's and e2e tests' approvals would change with the calendar.
func TestGenuineDocumentsOutliveTheYearsAhead(t *testing.T) {
	e := start(t, Config{})
	validUntil := fmt.Sprintf("%04d-12-31", time.Now().Year()+5)
	for applicant := range int64(40) {
		r, err := e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{DocumentImage: DocumentImage(applicant, false)})
		if err != nil {
			t.Fatal(err)
		}
		if f := r.GetFields(); f.GetExpiryDate() <= validUntil || f.GetIssueDate() > time.Now().Format(time.DateOnly) {
			t.Errorf("applicant %d: issued %s, expires %s; want issued by today and valid past %s",
				applicant, f.GetIssueDate(), f.GetExpiryDate(), validUntil)
		}
	}
}
