package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// refusing is a Budget that grants no hedge: the calls below are never hedged, and the
// delay is learnt from their first attempts alone.
type refusing struct{}

func (refusing) Withdraw() bool { return false }

// Fast business errors (a request refused by the server's validation or authentication in
// a millisecond) are no latency samples: counted, 60% of calls answered InvalidArgument in 1ms
// put the median there, and the median rule took the delay down to 3ms, hedging every call
// that succeeds (in 20ms) at 3ms, each hedge a loser. The delay is learnt from the answers
// that succeed.
func TestFastBusinessErrorsDoNotLowerTheDelay(t *testing.T) {
	clk := clocktest.New(time.Time{})
	p, err := hedge.New(hedge.Config{MaxAttempts: 2, Percentile: 0.95, Delay: 100 * time.Millisecond, Window: 100, MinSamples: 10, Idempotent: true},
		hedge.WithClock(clk), hedge.WithBudgetOf(refusing{}))
	if err != nil {
		t.Fatal(err)
	}
	const method = "/kyc.v1.FaceMatchService/Compare"
	for i := range 100 {
		invalid := i%5 < 3
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			if invalid {
				clk.Advance(time.Millisecond)
				return status.Error(grpccodes.InvalidArgument, "no image")
			}
			clk.Advance(20 * time.Millisecond)
			return nil
		}
		err := p.Unary()(context.Background(), method, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
		if got, want := status.Code(err), map[bool]grpccodes.Code{true: grpccodes.InvalidArgument, false: grpccodes.OK}[invalid]; got != want {
			t.Fatalf("call %d ended with %v, want %v", i, err, want)
		}
	}
	if d := p.Delay(method); d != 20*time.Millisecond {
		t.Errorf("after 60 InvalidArgument answers in 1ms and 40 successes in 20ms, the delay is %v; want 20ms, the p95 of the successes", d)
	}
}
