package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// hedgeEventPanicking panics on the event of kind of attempt 2, the hedge.
type hedgeEventPanicking struct{ kind observe.Kind }

func (o hedgeEventPanicking) Observe(e observe.Event) {
	if e.Kind == o.kind && e.Attempt == 2 {
		panic("observer boom")
	}
}

// A hedged unary call whose observer panics on an event of a hedge (its HedgeSent or its
// AttemptFinished, sent on the hedge's goroutine) raises the panic on the caller's goroutine,
// and still runs the caller's grpc.OnFinish callbacks once, with calloption.ErrPanicked: the
// hedge runs them itself for the call, and gives its attempts none. The panic used to skip
// them, as attempt 1's did (TestAttemptOneFinishedPanicRunsOnFinish).
func TestHedgeEventPanicRunsOnFinish(t *testing.T) {
	const d = 10 * time.Millisecond
	for _, kind := range []observe.Kind{observe.HedgeSent, observe.AttemptFinished} {
		t.Run(kind.String(), func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(hedgeEventPanicking{kind}))
			if err != nil {
				t.Fatal(err)
			}
			invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) == 0 {
					<-ctx.Done() // attempt 1 answers only once the hedge's panic ended the call
					return ctx.Err()
				}
				return nil
			}
			var f testkit.Finishes
			recovered := make(chan any, 1)
			go func() {
				defer func() { recovered <- recover() }()
				_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker, f.Option())
			}()
			clk.BlockUntil(1)
			clk.Advance(d)
			if v := <-recovered; v != "observer boom" {
				t.Fatalf("recovered %v, want the observer's panic", v)
			}
			if errs := f.Errs(); len(errs) != 1 || errs[0] != calloption.ErrPanicked {
				t.Fatalf("OnFinish ran %d times (%v) after the hedge's %v panicked, want once with calloption.ErrPanicked", len(errs), errs, kind)
			}
		})
	}
}
