package hedge

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A hedge that decides the call wins it, whatever its class (the package documentation's
// table: a fatal outcome wins), and a hedge that wins gives back what it took from the
// method's allowance of losing hedges: only a hedge beaten by an attempt sent before it is
// charged. A hedge that decided the call with a server fault or a server's Canceled used to
// keep its allowance, so a service failing fast on hedges drained the allowance and later
// spikes went unhedged.
func TestFatalHedgeWinRefundsTheAllowance(t *testing.T) {
	for _, code := range []grpccodes.Code{grpccodes.Internal, grpccodes.Canceled, grpccodes.NotFound} {
		t.Run(code.String(), func(t *testing.T) {
			const d = 10 * time.Millisecond
			clk := clocktest.New(time.Time{})
			p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			// Below the cap, so that the deposit and the refund both show.
			const before = 5000
			p.method(compare).hedges.milli.Store(before)
			s := newScripted(map[int]func(context.Context) (metadata.MD, error){
				1: func(ctx context.Context) (metadata.MD, error) {
					<-ctx.Done() // canceled as the hedge decides the call
					return nil, status.FromContextError(ctx.Err()).Err()
				},
				2: func(context.Context) (metadata.MD, error) {
					return nil, testkit.Status(code, "hedge's answer")
				},
			})
			done := make(chan error, 1)
			go func() {
				done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke)
			}()
			s.waitFor(t, 1)
			clk.BlockUntil(1)
			clk.Advance(d)
			if got := status.Code(<-done); got != code {
				t.Fatalf("call ended with %v, want the hedge's %v", got, code)
			}
			// The call's deposit, the hedge's take, the refund of the hedge that won.
			if got, want := p.method(compare).hedges.milli.Load(), before+shareMilli; got != want {
				t.Fatalf("allowance %d milli-hedges after a hedge decided the call with %v, want %d (refunded)", got, code, want)
			}
		})
	}
}
