package retry

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A retry the ratio budget counted at decide that is never made, because the caller gave up
// during its backoff, is uncounted: it reached no service, and left counted it would refuse
// another call's retry for a whole window.
func TestRetryUnsentAfterTheBackoffIsUncounted(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	p, err := New(Config{
		MaxAttempts: 2, InitialBackoff: time.Second, MaxBackoff: time.Second, Multiplier: 1,
		Jitter: JitterNone, Idempotent: true,
		Throttle: RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second},
	}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		n++
		return status.Error(grpccodes.Unavailable, "down")
	}
	b := p.Budget("test.v1.S")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Unary()(ctx, "/test.v1.S/Do", nil, nil, nil, invoker) }()
	clk.BlockUntil(1) // the backoff before the retry, counted by now
	if _, retries := b.counted(); retries != 1 {
		t.Fatalf("the ratio budget counts %d retries during the backoff; want 1", retries)
	}
	cancel()
	if err := within.Recv(t, done, "the call's end"); err == nil || n != 1 {
		t.Fatalf("call = %v after %d attempts; want the first attempt's failure", err, n)
	}
	if _, retries := b.counted(); retries != 0 {
		t.Errorf("the ratio budget counts %d retries after the call ended in its backoff; want 0: the retry was never made", retries)
	}
}
