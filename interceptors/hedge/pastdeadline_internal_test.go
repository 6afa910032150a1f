package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// countingBudget counts the withdrawals it was asked for, and grants them all.
type countingBudget struct{ asked atomic.Int64 }

func (b *countingBudget) Withdraw() bool { b.asked.Add(1); return true }

// A hedge whose time comes when the caller's deadline has passed is not sent: the timers of
// the hedge and of the caller's context fire in goroutines of their own, and the hedge's may
// run first, while the context does not yet say it is done. Such a hedge can only fail (grpc
// fails an attempt whose deadline has passed before it sends it), and it used to go out all
// the same: a HedgeSent, a retry-budget token and a hedge of the allowance spent on it.
func TestNoHedgeOnceTheCallersDeadlinePassed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = time.Hour
		start := time.Now()
		clk := clocktest.New(start)
		rec := &testkit.Recorder{}
		b := &countingBudget{}
		p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk), WithObserver(rec), WithBudget(b))
		if err != nil {
			t.Fatal(err)
		}
		// The caller's deadline is the hedge's time: by the policy's clock it has passed when
		// the hedge is due, while the context's own timer has not fired yet.
		ctx, cancel := context.WithDeadline(context.Background(), start.Add(d))
		defer cancel()
		var hedges atomic.Int32
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
				hedges.Add(1)
				return status.FromContextError(context.DeadlineExceeded).Err()
			}
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
		allowance := p.method(compare).hedges
		done := startCompare(ctx, p, invoker)
		synctest.Wait() // attempt 1 waits, the hedge's timer is armed
		before := allowance.milli.Load()
		clk.Advance(d)
		synctest.Wait() // the hedge went out, or was not sent
		if ctx.Err() != nil {
			t.Fatal("the caller's context ended before the hedge was due: the test tests nothing")
		}
		cancel()
		if err := <-done; status.Code(err) != grpccodes.Canceled && status.Code(err) != grpccodes.DeadlineExceeded {
			t.Fatalf("the call ended with %v, want its caller's cancel or deadline", err)
		}
		if n := hedges.Load(); n != 0 || b.asked.Load() != 0 || rec.Count(observe.HedgeSent) != 0 || allowance.milli.Load() != before {
			t.Fatalf("a hedge due at the caller's deadline: %d sent, %d HedgeSent, %d retry-budget tokens taken, allowance %d -> %d milli-hedges; want none sent, nothing spent",
				n, rec.Count(observe.HedgeSent), b.asked.Load(), before, allowance.milli.Load())
		}
	})
}
