package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
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

// A hedge due with less than retry.MinAttemptTime left before the caller's deadline (a
// per-attempt timeout, the retry budget's end) is not sent, as no retry is: it cannot finish,
// and would only take a retry-budget token, a hedge of the allowance and the server's work.
// With MinAttemptTime or more left it goes. So is one due when the deadline has passed (0
// left): the timers of the hedge and of the caller's context fire in goroutines of their own,
// and the hedge's may run first, while the context does not yet say it is done.
func TestNoHedgeWhenTheDeadlineIsNearlyOver(t *testing.T) {
	for _, tc := range []struct {
		left time.Duration
		sent bool
	}{
		{left: 0, sent: false},
		{left: retry.MinAttemptTime - time.Millisecond, sent: false},
		{left: time.Millisecond, sent: false},
		{left: retry.MinAttemptTime, sent: true},
	} {
		t.Run(tc.left.String(), func(t *testing.T) {
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
				ctx, cancel := context.WithDeadline(context.Background(), start.Add(d+tc.left))
				defer cancel()
				var hedges atomic.Int32
				invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
					if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
						hedges.Add(1)
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
				n, events, asked := hedges.Load(), rec.Count(observe.HedgeSent), b.asked.Load()
				if !tc.sent && (n != 0 || events != 0 || asked != 0 || allowance.milli.Load() != before) {
					t.Fatalf("a hedge due %v before the caller's deadline: %d sent, %d HedgeSent, %d retry-budget tokens taken, allowance %d -> %d milli-hedges; want none sent, nothing spent",
						tc.left, n, events, asked, before, allowance.milli.Load())
				}
				if tc.sent && (n != 1 || events != 1 || asked != 1) {
					t.Fatalf("a hedge due %v before the caller's deadline: %d sent, %d HedgeSent, %d retry-budget tokens taken; want it sent",
						tc.left, n, events, asked)
				}
			})
		})
	}
}
