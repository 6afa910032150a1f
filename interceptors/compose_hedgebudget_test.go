package interceptors_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// A hedge that a policy below it refuses never reaches the service: it costs the retry budget
// nothing, as it costs the hedge allowance nothing. With a budget of one retry in the window
// (a ratio budget and a token bucket alike), a call whose hedge a full bulkhead refused leaves
// that retry to the next call. It was spent on the refused hedge, and the next call's retry
// was refused, retry_budget.
func TestComposeRefusedHedgeCostsTheRetryBudgetNothing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		budget retry.RetryBudgetConfig
	}{
		{"ratio", retry.RetryBudgetConfig{Ratio: 0.001, MinPerSecond: 0.1, Window: 10 * time.Second}},
		// 3 tokens: a retry while more than 1.5 are left; the hedge takes one, the next
		// call's failure another.
		{"token bucket", retry.RetryBudgetConfig{MaxTokens: 3, TokenRatio: 0.001}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := fullProfile()
			p.Fallback, p.AdaptiveThrottle = nil, nil
			p.Breaker.ConsecutiveFailures = 5
			p.Hedge.Delay = 10 * time.Millisecond
			p.Bulkhead = &bulkhead.Config{MaxConcurrent: 1} // attempt 1 holds the only slot
			p.Retry.Throttle = tt.budget
			c := composeAll(t, p)
			held := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				// The hedging policy armed its timer before attempt 1: the hedge goes out now,
				// and the bulkhead refuses it before attempt 1 answers.
				c.clk.Advance(10 * time.Millisecond)
				testkit.Eventually(t, "the bulkhead's refusal of the hedge", func() bool { return c.rec.Count(observe.Rejected) > 0 })
				return nil
			}
			if err := c.s.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, held); err != nil {
				t.Fatalf("hedged call = %v; want attempt 1's success", err)
			}
			if n := c.rec.Count(observe.HedgeSent); n != 1 {
				t.Fatalf("%d hedges sent; want 1, refused by the bulkhead", n)
			}
			c.rec.Reset()
			// The next call fails once: its retry (after a 1ms backoff) is the budget's one.
			fail := &scriptedInvoker{errs: []error{unavailable(), nil}}
			done := make(chan error, 1)
			go func() { done <- c.call(context.Background(), fail, &kycv1.CompareResponse{}) }()
			var err error
		wait:
			for {
				select {
				case err = <-done:
					break wait
				default:
				}
				if c.rec.Count(observe.RetryScheduled) > 0 {
					// Between attempts the backoff's timer is the only one (retry: Deadlines of
					// an attempt).
					c.clk.BlockUntil(1)
					c.clk.Advance(time.Millisecond)
					err = <-done
					break
				}
				runtime.Gosched()
			}
			if err != nil || fail.n != 2 {
				var reasons []string
				for _, e := range c.rec.Events(observe.RetriesExhausted) {
					reasons = append(reasons, e.Reason)
				}
				t.Fatalf("next call = %v after %d attempts, exhausted %q; want a success on its retry", err, fail.n, reasons)
			}
		})
	}
}
