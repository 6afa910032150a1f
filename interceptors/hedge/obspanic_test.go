package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// firstDonePanicking panics on attempt 1's AttemptFinished.
type firstDonePanicking struct{}

func (firstDonePanicking) Observe(e observe.Event) {
	if e.Kind == observe.AttemptFinished && e.Attempt == 1 {
		panic("observer boom")
	}
}

// A hedged unary call whose observer panics on attempt 1's AttemptFinished (sent on the
// caller's goroutine once attempt 1 returned) still runs the caller's grpc.OnFinish callbacks,
// once, as the panic goes on to the caller: the hedge runs them itself for the call, and gives
// its attempts none, so grpc never runs them. The panic used to skip them.
func TestAttemptOneFinishedPanicRunsOnFinish(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{{"success", nil}, {"failure", status.Error(grpccodes.Unavailable, "down")}} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			p, err := New(Config{MaxAttempts: 2, Delay: time.Second}, WithClock(clk), WithObserver(firstDonePanicking{}))
			if err != nil {
				t.Fatal(err)
			}
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return tc.err }
			var f testkit.Finishes
			func() {
				defer func() {
					if v := recover(); v != "observer boom" {
						t.Errorf("recovered %v, want the observer's panic", v)
					}
				}()
				_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker, f.Option())
			}()
			if errs := f.Errs(); len(errs) != 1 {
				t.Fatalf("OnFinish ran %d times (%v) after attempt 1's AttemptFinished panicked, want once", len(errs), errs)
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers armed after the panic, want 0", n)
			}
		})
	}
}

// A hedged unary call whose observer panics on HedgeWon still runs the caller's grpc.OnFinish
// callbacks, once, as the panic goes on to the caller. The panic used to skip them.
func TestHedgeWonPanicRunsOnFinish(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	obs := &wonPanicking{}
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) == 0 {
			<-ctx.Done() // attempt 1 answers only when the hedge has won
		}
		return nil
	}
	var f testkit.Finishes
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker, f.Option())
	}()
	obs.hedgeWinsAndPanics(t, clk, d, recovered)
	if errs := f.Errs(); len(errs) != 1 {
		t.Fatalf("OnFinish ran %d times (%v) after HedgeWon panicked, want once", len(errs), errs)
	}
}
