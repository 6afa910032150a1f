package zapobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
)

// A call through a breaker the registry interceptors made at its first call, which has not
// changed state, has breaker = closed on its first retry line: the breaker publishes itself
// (observe.BreakerPublished) before it admits the call. Before, only a suite's breakers were
// published, and the line had no breaker field until the breaker's first change.
func TestBreakerFieldOfARegistryBreakerOnTheFirstRetry(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zapobs.New(zap.New(core))
	clk := clocktest.New(at)
	brk, err := breaker.UnaryClientInterceptor(breaker.Config{ConsecutiveFailures: 5},
		breaker.WithRegistry(breaker.NewRegistry()), breaker.WithClock(clk), breaker.WithObserver(log))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := retry.UnaryClientInterceptor(retry.Config{MaxAttempts: 2, Idempotent: true, InitialBackoff: 10 * time.Millisecond,
		Jitter: retry.JitterNone}, retry.WithClock(clk), retry.WithObserver(log))
	if err != nil {
		t.Fatal(err)
	}
	guarded := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return brk(ctx, method, req, reply, cc, failing, opts...)
	}
	done := make(chan error, 1)
	go func() { done <- rt(context.Background(), "/test.v1.RegistryBreaker/Do", nil, nil, nil, guarded) }()
	clk.AdvanceWhenWaiting() // the backoff before the second attempt
	if err := <-done; err == nil {
		t.Fatal("the call succeeded; want its invoker's error")
	}
	lines := logs.FilterMessage(zapobs.MsgRetryScheduled).All()
	if len(lines) == 0 {
		t.Fatal("no retry line")
	}
	if got, ok := lines[0].ContextMap()["breaker"]; !ok || got != "closed" {
		t.Errorf("the first retry line's breaker field: %v (present: %v); want closed", got, ok)
	}
}
