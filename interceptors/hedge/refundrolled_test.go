package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// A hedge refused below after it waited longer than a ratio budget's window (in a bulkhead's
// queue, say) gives back nothing: the retry its Withdraw counted left the window with its
// slot. It does not uncount another call's retry, counted since and sent: with a floor of 2
// retries in the window, the one drawn at 11s leaves room for one more at 15s, not two.
func TestRefusedHedgeAfterTheWindowUncountsNoOtherRetry(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	rp, err := retry.New(retry.Config{MaxAttempts: 2, Idempotent: true,
		Throttle: retry.RetryBudgetConfig{Ratio: 0.001, MinPerSecond: 0.2, Window: 10 * time.Second}}, retry.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	b := rp.Budget("kyc.v1.FaceMatchService")
	p, err := hedge.New(hedge.Config{MaxAttempts: 2, Delay: 10 * time.Millisecond, Idempotent: true},
		hedge.WithClock(clk), hedge.WithBudget(b))
	if err != nil {
		t.Fatal(err)
	}
	refused := &codes.Rejection{Code: grpccodes.ResourceExhausted, Reason: "BULKHEAD_FULL", Policy: "bulkhead", Service: "kyc.v1.FaceMatchService"}
	hedged := make(chan struct{})
	n := 0
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if n++; n == 1 {
			clk.Advance(10 * time.Millisecond) // the hedge goes, its retry counted at 0s
			within.Recv(t, hedged, "the hedge's refusal")
			return nil
		}
		defer close(hedged)
		clk.Advance(11 * time.Second)
		if !b.Withdraw() { // another call's retry, sent at 11s
			t.Error("the budget refused a retry at 11s")
		}
		clk.Advance(4 * time.Second)
		return refused // after 15s in the queue
	}
	if err := p.Unary()(context.Background(), "/kyc.v1.FaceMatchService/Compare", &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker); err != nil {
		t.Fatalf("hedged call = %v; want attempt 1's success", err)
	}
	if !b.Withdraw() {
		t.Fatal("the budget refused a retry at 15s, with the one drawn at 11s in its window of 2")
	}
	if b.Withdraw() {
		t.Error("the budget allowed a third retry at 15s, in a window of 2 that counts the ones drawn at 11s and 15s: the refused hedge uncounted the one drawn at 11s")
	}
}
