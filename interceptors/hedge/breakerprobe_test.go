package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A hedged call through a half-open breaker takes a probe slot per attempt; the attempt
// canceled because the other won gives its slot back, counted neither way: after the call
// both slots are free again, and the winner's success alone has counted.
func TestLoserGivesBackItsBreakerProbe(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	br, err := breaker.New("kyc.v1.FaceMatchService", breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Second,
		HalfOpenMaxCalls: 2, SuccessThreshold: 2}, breaker.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	permit, err := br.Allow()
	if err != nil {
		t.Fatal(err)
	}
	permit.Done(status.Error(grpccodes.Unavailable, "down"))
	clk.Advance(time.Second)
	if s := br.State(); s != breaker.HalfOpen {
		t.Fatalf("breaker %v, want half_open", s)
	}
	down := br.Unary()
	arrived := make(chan int, 2)
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return down(ctx, method, req, reply, cc, func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
				arrived <- 2
				return nil
			}
			arrived <- 1
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}, opts...)
	}
	done := make(chan error, 1)
	go func() {
		done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
	}()
	<-arrived
	clk.BlockUntil(1)
	clk.Advance(d)
	<-arrived
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := br.State(); s != breaker.HalfOpen {
		t.Fatalf("breaker %v after one successful probe of two, want half_open", s)
	}
	// Both probe slots are free: the loser gave its slot back.
	p1, err := br.Allow()
	if err != nil {
		t.Fatalf("first probe after the call: %v", err)
	}
	p2, err := br.Allow()
	if err != nil {
		t.Fatalf("second probe after the call: %v (the canceled attempt kept its slot)", err)
	}
	p1.Done(nil) // the second success of the half-open period: the breaker closes
	p2.Done(nil)
	if s := br.State(); s != breaker.Closed {
		t.Fatalf("breaker %v, want closed after two successful probes", s)
	}
}
