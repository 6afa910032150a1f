package app

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestReachedCountsEveryCode: the requests an embedded stub received are counted whatever
// they were answered with, Unauthenticated, the last code, included.
func TestReachedCountsEveryCode(t *testing.T) {
	s, err := stub.Start(context.Background(), stub.Config{Listen: "127.0.0.1:0", Services: []string{stub.ServiceOCR}, StopTimeout: time.Second,
		Faults: stub.Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unauthenticated: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := kycv1.NewOCRServiceClient(cc).Extract(context.Background(), &kycv1.ExtractRequest{}); status.Code(err) != grpccodes.Unauthenticated {
		t.Fatalf("Extract: %v, want Unauthenticated", err)
	}
	s.Stop() // a request is counted when its handler returns
	if got := reachedAtStubs(map[string]*stub.Stub{stub.ServiceOCR: s}); got[stub.ServiceOCR] != 1 {
		t.Errorf("reached %v, want ocr 1", got)
	}
}
