package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// startCompare makes a call of compare through p with invoker in a goroutine, and returns
// the channel its error comes on.
func startCompare(ctx context.Context, p *Policy, invoker grpc.UnaryInvoker) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
	}()
	return done
}

// hedgedBelow starts a call of compare through p whose attempts go through down, a policy
// below the hedging one, and returns, with the channel the call's error comes on, once
// attempt 1 and the hedge, sent when clk has moved past delay, have both reached the
// service: attempt 1 waits for its context to end (the canceled loser); the hedge returns
// what hedge returns.
func hedgedBelow(p *Policy, clk *clocktest.Fake, delay time.Duration, down grpc.UnaryClientInterceptor, hedge func() error) <-chan error {
	arrived := make(chan struct{}, 2)
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return down(ctx, method, req, reply, cc, func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			arrived <- struct{}{}
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
				return hedge()
			}
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}, opts...)
	}
	done := startCompare(context.Background(), p, invoker)
	<-arrived
	clk.BlockUntil(1)
	clk.Advance(delay)
	<-arrived
	return done
}

// hedged returns a policy of cfg on a fake clock at the zero time, and the clock.
func hedged(t *testing.T, cfg Config) (*Policy, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Time{})
	p, err := New(cfg, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return p, clk
}
