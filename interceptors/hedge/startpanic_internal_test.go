package hedge

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// deadlinePanics is a context whose Deadline panics: the hedge's start reads it first.
type deadlinePanics struct{ context.Context }

func (deadlinePanics) Deadline() (time.Time, bool) { panic("deadline boom") }

// A panic of the caller's context as the hedge starts (its Deadline), before the hedge paid
// anything, reaches the caller as a hedge's panic does, and leaves the method's allowance as
// the call found it, plus the call's share: nothing was taken, so nothing is given back. It
// used to give back a hedge it had never taken.
func TestStartPanicRefundsNothingUntaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := clocktest.New(time.Now())
		p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		allowance := p.method(compare).hedges
		allowance.milli.Store(10_000)
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			<-ctx.Done() // attempt 1: the hedge's panic ends it
			return status.FromContextError(ctx.Err()).Err()
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan any, 1)
		go func() {
			defer func() { got <- recover() }()
			_ = p.Unary()(deadlinePanics{ctx}, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
		}()
		synctest.Wait() // attempt 1 waits, the hedge's timer is armed
		clk.Advance(d)
		if v := <-got; v != "deadline boom" {
			t.Fatalf("the call's panic = %v, want the context's", v)
		}
		if got, want := allowance.milli.Load(), 10_000+shareMilli; got != want {
			t.Errorf("allowance %d milli-hedges, want %d (the call's share, no hedge taken or given back)", got, want)
		}
	})
}
