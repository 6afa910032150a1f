package kyc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestServerCallerCancelIsNotAFailure: a verification whose caller went away (a hedging
// client's loser, a client that gave up) is neither decided nor a failure of the
// dependencies: kyc_verifications_total{decision="failed"} does not count it, as a batch does
// not count the verifications an interruption cancelled.
func TestServerCallerCancelIsNotAFailure(t *testing.T) {
	s, err := stub.Start(context.Background(), stub.Config{Faults: stub.Faults{Latency: time.Hour}, StopTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	reg := prometheus.NewRegistry()
	m, err := kyc.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := kyc.NewServer(kyc.NewVerifier(cc, cc, cc), m, 0)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := srv.Verify(ctx, kyc.Request(1, kyc.CaseGenuine)); errc <- err }()
	// The three steps are held by the stub's hour of latency: the caller then leaves.
	deadline := time.Now().Add(10 * time.Second)
	for s.InService() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d steps reached the stub, want 3", s.InService())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; status.Code(err) != grpccodes.Canceled {
		t.Errorf("Verify after the caller left: %v, want Canceled", err)
	}
	want := `
# HELP kyc_verifications_total Verifications ended, by decision (approved, rejected: decided; failed: undecided).
# TYPE kyc_verifications_total counter
kyc_verifications_total{decision="approved"} 0
kyc_verifications_total{decision="failed"} 0
kyc_verifications_total{decision="rejected"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kyc_verifications_total"); err != nil {
		t.Error(err)
	}
}
