package fallback_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
)

// TestMessageKeepsACopy: Message copies its message when called. A suite keeps the Reply and
// builds a Fallback from it on each reload; the copy used to be taken by New, so a program that
// changed its message after giving it had the change served from the next reload on.
func TestMessageKeepsACopy(t *testing.T) {
	m := &kycv1.CompareResponse{Similarity: -1}
	reply := fallback.Message(m)
	m.Similarity = 0.99
	f, err := fallback.New(testkit.MethodCompare, fallback.Config{}, reply)
	if err != nil {
		t.Fatal(err)
	}
	r := &kycv1.CompareResponse{}
	if err := f.Recover(context.Background(), testkit.MethodCompare, nil, r, testkit.Status(grpccodes.Unavailable, "")); err != nil || r.GetSimilarity() != -1 {
		t.Fatalf("Recover = %v, reply %v; want the message as given to Message (similarity -1)", err, r)
	}
}
