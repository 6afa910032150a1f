package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A hedged round whose every attempt hangs is one failure to the breaker, the timeout of its
// first attempt, as a round that a hedge wins is one success: the hedges, cut with the round by
// its per-attempt timeout after less time than it, are losers (Ignored), as those of a won
// round are. Counted as failures, a round of three hung attempts weighed three against a won
// round's one, and with 30 % of requests hung, bursts of such rounds' cuts opened the built-in
// breakers on 20 failures in a row (the example orchestrator, per-attempt timeouts of 2.5-3.5 s:
// in 5 of 17 runs, none of 14 since).
func TestComposeHungRoundIsOneBreakerFailure(t *testing.T) {
	const timeout, delay = time.Second, 100 * time.Millisecond
	c := composeAll(t, config.Profile{
		Retry: &retry.Config{MaxAttempts: 1, PerAttemptTimeout: timeout, Idempotent: true},
		Hedge: &hedge.Config{MaxAttempts: 3, Delay: delay, Idempotent: true},
		// Never trips here: its stats count the round's outcomes.
		Breaker: &breaker.Config{ConsecutiveFailures: 100, RecoveryTimeout: time.Hour},
	})
	entered := make(chan struct{}, 3)
	hung := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		entered <- struct{}{}
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	}
	done := make(chan error, 1)
	go func() {
		done <- c.s.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, hung)
	}()
	<-entered // attempt 1; the hedging timer was armed before it
	c.clk.Advance(delay)
	<-entered // hedge 2, the timer armed again for hedge 3
	c.clk.Advance(delay)
	<-entered // hedge 3
	c.clk.Advance(timeout - 2*delay)
	if err := <-done; status.Code(err) != grpccodes.DeadlineExceeded {
		t.Fatalf("call = %v; want the per-attempt timeout's DeadlineExceeded", err)
	}
	b, ok := c.reg.Lookup(svcFaceMatch)
	if !ok {
		t.Fatal("no breaker for the service")
	}
	testkit.Eventually(t, "the breaker's count of the round's three attempts", func() bool { return b.Stats().Calls == 3 })
	if s := b.Stats(); s.Failures != 1 || s.Ignored != 2 || s.ConsecutiveFailures != 1 {
		t.Errorf("breaker stats after a hung round of 3 attempts: %d failures, %d ignored, a run of %d; want 1, 2, 1",
			s.Failures, s.Ignored, s.ConsecutiveFailures)
	}
}
