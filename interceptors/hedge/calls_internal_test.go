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

// below returns an invoker that sends each attempt through down, a policy below the hedging
// one: attempt 1 arrives (1 on arrived) and waits for its context to end, the canceled loser;
// a hedge arrives (2 on arrived) and returns what hedge returns.
func below(down grpc.UnaryClientInterceptor, arrived chan<- int, hedge func() error) grpc.UnaryInvoker {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return down(ctx, method, req, reply, cc, func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
				arrived <- 2
				return hedge()
			}
			arrived <- 1
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}, opts...)
	}
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
