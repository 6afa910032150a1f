package app

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestBatchDecisionsCountedAsTheyEnd: with -metrics, kyc_verifications_total counts a batch's
// decisions as its verifications end, as the suite's own metrics do, so that a scrape during
// the batch sees them. They were all counted once the batch was over: a batch's scrapes saw
// zero decisions, then every one at once.
func TestBatchDecisionsCountedAsTheyEnd(t *testing.T) {
	s, err := stub.Start(context.Background(), stub.Config{StopTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	reg := prometheus.NewRegistry()
	decisions, err := kyc.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var seen []float64 // decisions counted when each verification's progress is told
	f := &flags{batch: kyc.Batch{N: 3, Concurrency: 1, Progress: func(done, total int) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Error(err)
		}
		n := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "kyc_verifications_total" {
				for _, m := range mf.GetMetric() {
					n += m.GetCounter().GetValue()
				}
			}
		}
		seen = append(seen, n)
	}}}
	deps := newDepErrors(nil, func(string) *codes.Classifier { return codes.Default() }, zap.NewNop())
	err = runBatch(context.Background(), f, kyc.NewVerifier(cc, cc, cc), nil, func() {}, func() {}, kyc.NewCounters(), deps,
		decisions, nil, io.Discard, io.Discard, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0] != 1 || seen[1] != 2 || seen[2] != 3 {
		t.Errorf("decisions counted at each verification's end: %v, want [1 2 3]", seen)
	}
}
