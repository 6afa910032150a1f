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

// panickingBudget is a Budget whose Withdraw panics.
type panickingBudget struct{}

func (panickingBudget) Withdraw() bool { panic("budget boom") }

// A panic of the Budget's Withdraw, which runs on the hedge's goroutine (the timer's), reaches
// the caller as a panic of what runs there for a hedge does (see the package's Panics): once
// attempt 1 has been canceled and has returned, with what the hedge took from the method's
// allowance given back, since it never went out. It used to kill the process from the timer's
// goroutine, with the call's lock held.
func TestBudgetPanicReachesTheCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := clocktest.New(time.Now())
		p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk), WithBudgetOf(panickingBudget{}))
		if err != nil {
			t.Fatal(err)
		}
		canceled := false
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			<-ctx.Done() // attempt 1: the hedge's panic ends it
			canceled = true
			return status.FromContextError(ctx.Err()).Err()
		}
		allowance := p.method(compare).hedges
		got := make(chan any, 1)
		go func() {
			defer func() { got <- recover() }()
			_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
		}()
		synctest.Wait() // attempt 1 waits, the hedge's timer is armed
		before := allowance.milli.Load()
		clk.Advance(d)
		if v := <-got; v != "budget boom" {
			t.Fatalf("the call's panic = %v, want the budget's", v)
		}
		if !canceled {
			t.Error("attempt 1 was not canceled before the panic reached the caller")
		}
		if after := allowance.milli.Load(); after != before {
			t.Errorf("allowance %d -> %d milli-hedges, want what the hedge took given back", before, after)
		}
	})
}
