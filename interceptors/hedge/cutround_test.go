package hedge_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestRoundCutByItsTimeoutEndsInDeadlineExceeded: a round that a retry loop's per-attempt
// timeout cuts by canceling its context (retry.CutOvertaken, its cut flag set first, see
// outcome.WithCutFlag) ends in the timeout's DeadlineExceeded, as a round its context's
// deadline ends does; the same cancel without the flag is the caller's Canceled.
func TestRoundCutByItsTimeoutEndsInDeadlineExceeded(t *testing.T) {
	for _, tt := range []struct {
		name string
		cut  bool
		want grpccodes.Code
	}{
		{"cut by its per-attempt timeout", true, grpccodes.DeadlineExceeded},
		{"canceled by its caller", false, grpccodes.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			hp, err := hedge.New(hedge.Config{Delay: time.Hour}, hedge.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			var flag atomic.Bool
			ctx, cancel := context.WithCancel(outcome.WithCutFlag(context.Background(), &flag))
			defer cancel()
			started := make(chan struct{})
			invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				close(started)
				<-ctx.Done()
				return status.Error(grpccodes.Canceled, "context canceled")
			}
			done := make(chan error, 1)
			go func() {
				done <- hp.Unary()(ctx, testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
			}()
			<-started
			flag.Store(tt.cut)
			cancel()
			if got := status.Code(<-done); got != tt.want {
				t.Fatalf("the round ended %v, want %v", got, tt.want)
			}
		})
	}
}
