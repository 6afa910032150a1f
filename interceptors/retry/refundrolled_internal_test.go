package retry

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A refused retry is uncounted from the slot its Allow counted it in: after a backoff longer
// than the window, that slot has left the window, the retry with it, and the refusal gives
// back nothing; it does not uncount another call's retry, counted since, which was sent.
func TestRefusedRetryAfterTheWindowUncountsNoOtherRetry(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	p, err := New(Config{
		MaxAttempts: 2, InitialBackoff: 12 * time.Second, MaxBackoff: 12 * time.Second, Multiplier: 1,
		Jitter: JitterNone, Idempotent: true,
		Throttle: RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second},
	}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	refused := &codes.Rejection{Err: context.Canceled, Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: "breaker", Service: "test.v1.S"}
	n := 0
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		n++
		if n == 1 {
			return status.Error(grpccodes.Unavailable, "down")
		}
		return refused
	}
	b := p.Budget("test.v1.S")
	done := make(chan error, 1)
	go func() { done <- p.Unary()(context.Background(), "/test.v1.S/Do", nil, nil, nil, invoker) }()
	clk.BlockUntil(1) // the 12s backoff, its retry counted at 0s
	clk.Advance(11 * time.Second)
	if !b.Withdraw() { // another call's retry (or hedge), sent at 11s
		t.Fatal("the budget refused a retry at 11s")
	}
	clk.Advance(time.Second)
	if err := within.Recv(t, done, "the call's end"); err == nil || n != 2 {
		t.Fatalf("call = %v after %d attempts; want the refusal of attempt 2", err, n)
	}
	if _, retries := b.counted(); retries != 1 {
		t.Errorf("the ratio budget counts %d retries at 12s; want 1, the retry drawn at 11s (the refused one, drawn at 0s, left the window at 10s)", retries)
	}
}
