package hedge

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The caller cancels while attempt 1 and its hedge are in flight, and the hedge's Canceled is
// taken first. It decides the call (its error is the call's), but it did not win it: the
// caller gave up. It stays charged to the method's allowance, as a hedge that loses. It used
// to be given back, as to a hedge that cut a slow answer short.
func TestCallerCancelIsNoHedgeWin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := clocktest.New(time.Now())
		hedgeDone := make(chan struct{})
		sink := observe.SinkFunc(func(e observe.Event) {
			if e.Kind == observe.AttemptFinished && e.Attempt == 2 {
				close(hedgeDone)
			}
		})
		p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk), WithObserver(sink))
		if err != nil {
			t.Fatal(err)
		}
		allowance := p.method(compare).hedges
		allowance.milli.Store(10_000)
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			<-ctx.Done()
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) == 0 {
				<-hedgeDone // attempt 1 returns once the hedge's Canceled was taken
			}
			return status.FromContextError(ctx.Err()).Err()
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := startCompare(ctx, p, invoker)
		synctest.Wait()
		clk.Advance(d) // the hedge goes, paid from the allowance
		synctest.Wait()
		cancel()
		if err := <-done; status.Code(err) != grpccodes.Canceled {
			t.Fatalf("err = %v, want Canceled", err)
		}
		// 10 hedges, plus a quarter for the call, minus the hedge sent.
		if got, want := allowance.milli.Load(), 10_000+shareMilli-1000; got != want {
			t.Errorf("allowance %d milli-hedges after the caller canceled, want %d: the hedge the caller's cancellation ended was given back as a winner", got, want)
		}
	})
}
