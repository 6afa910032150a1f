package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestCallerCancelUnderRetryIsNoSample: under a retry loop, the caller cancels while attempt 1
// and its hedge are in flight. The hedge's Canceled comes back first and decides the call;
// attempt 1 then ends canceled, by the caller, not because another attempt won: it is no
// latency sample (package doc), and the learnt delay stays where it was. With a per-attempt
// timeout the retry gives the round a context of its own, whose cancel the hedge shares for
// attempt 1 (and which the caller's cancellation ends too).
func TestCallerCancelUnderRetryIsNoSample(t *testing.T) {
	for _, perAttempt := range []time.Duration{0, time.Minute} {
		t.Run("per_attempt_"+perAttempt.String(), func(t *testing.T) { callerCancelUnderRetry(t, perAttempt) })
	}
}

func callerCancelUnderRetry(t *testing.T, perAttempt time.Duration) {
	clk := clocktest.New(time.Now())
	hedgeDone := make(chan struct{})
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.AttemptFinished && e.Attempt == 2 {
			close(hedgeDone)
		}
	})
	rp, err := retry.New(retry.Config{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, Jitter: retry.JitterNone, PerAttemptTimeout: perAttempt},
		retry.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	hp, err := hedge.New(hedge.Config{Delay: delay, Percentile: 0.5, MinSamples: 1}, hedge.WithClock(clk), hedge.WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	arrived := make(chan int, 2)
	last := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		n := 1
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(hedge.PreviousAttemptsKey)) > 0 {
			n = 2
		}
		arrived <- n
		<-ctx.Done()
		if n == 1 {
			<-hedgeDone // the hedge's Canceled is taken first
		}
		return status.Error(grpccodes.Canceled, "canceled")
	}
	hedged := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return hp.Unary()(ctx, method, req, reply, cc, last, opts...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- rp.Unary()(ctx, testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, hedged)
	}()
	<-arrived
	if perAttempt > 0 {
		clk.BlockUntil(2) // the round's deadline and the hedging timer
	} else {
		clk.BlockUntil(1)
	}
	clk.Advance(delay)
	<-arrived
	clk.Advance(4 * delay)
	cancel()
	if err := <-done; status.Code(err) != grpccodes.Canceled {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if got := hp.Delay(testkit.MethodCompare); got != delay {
		t.Errorf("Delay = %v after a call its caller canceled, want %v: attempt 1, canceled by the caller, was taken as a latency sample", got, delay)
	}
}
