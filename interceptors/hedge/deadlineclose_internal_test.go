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

// nearDeadlineHedge runs a call through p whose attempt 1 waits for its context to end, with
// the caller's deadline 1ms (less than retry.MinAttemptTime) past the first hedge's due time,
// and moves clk to that time and then two delays on, checking after each step that the hedge
// refused for the deadline left no hedging timer armed, that none went out, and that attempt
// 1 goes on. start is called with the caller's context and returns attempt 1's context once
// it runs, and the channel its outcome comes on.
func nearDeadlineHedge(t *testing.T, p *Policy, clk *clocktest.Fake, d time.Duration, hedges *atomic.Int32, rec *testkit.Recorder,
	start func(ctx context.Context) (context.Context, <-chan struct{}),
) {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(d+time.Millisecond))
	defer cancel()
	first, done := start(ctx)
	synctest.Wait() // attempt 1 waits, the hedge's timer is armed
	if n := clk.Timers(); n != 1 {
		t.Fatalf("%d timers armed once attempt 1 runs, want the hedge's", n)
	}
	for step := 1; step <= 3; step++ {
		clk.Advance(d)
		synctest.Wait()
		if ctx.Err() != nil {
			t.Fatal("the caller's context ended: the test tests nothing")
		}
		if n := clk.Timers(); n != 0 {
			t.Fatalf("after %d delays, %d hedging timers armed, want none: a hedge refused for the deadline closes the call to further hedges, whose deadline only comes nearer", step, n)
		}
		if n, e := hedges.Load(), rec.Count(observe.HedgeSent); n != 0 || e != 0 {
			t.Fatalf("after %d delays, %d hedges sent and %d HedgeSent, want none", step, n, e)
		}
		if first.Err() != nil {
			t.Fatalf("after %d delays, attempt 1's context ended (%v): the attempts in flight go on", step, first.Err())
		}
	}
	cancel()
	<-done
}

// delayPolicy returns a hedging policy whose next attempt is due d after the last, on a fake
// clock (made in the caller's synctest bubble), that tells its events to a recorder.
func delayPolicy(t *testing.T, d time.Duration) (*Policy, *clocktest.Fake, *testkit.Recorder) {
	t.Helper()
	clk := clocktest.New(time.Now())
	rec := &testkit.Recorder{}
	p, err := New(Config{MaxAttempts: 5, Delay: d, Idempotent: true}, WithClock(clk), WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	return p, clk, rec
}

// firstWaits returns an invoker that counts the hedges (requests with attempt metadata) in
// hedges and answers them at once, and sends attempt 1's context on first, then waits for it
// to end.
func firstWaits(first chan<- context.Context, hedges *atomic.Int32) grpc.UnaryInvoker {
	return func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
			hedges.Add(1)
			return nil
		}
		first <- ctx
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	}
}

// A hedge that the delay timer asks for but that its start refuses, the caller's deadline too
// near (less than retry.MinAttemptTime left), closes the call to further hedges: no later
// hedge could go either, so the timer is not armed again, and attempt 1 goes on as it was. The
// timer was armed again a delay on and woke up to refuse once a delay until the deadline.
func TestHedgeRefusedForTheDeadlineClosesTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = time.Hour
		p, clk, rec := delayPolicy(t, d)
		var hedges atomic.Int32
		nearDeadlineHedge(t, p, clk, d, &hedges, rec, func(ctx context.Context) (context.Context, <-chan struct{}) {
			first := make(chan context.Context, 1)
			invoker := firstWaits(first, &hedges)
			errc := startCompare(ctx, p, invoker)
			done := make(chan struct{})
			go func() {
				defer close(done)
				if err := <-errc; status.Code(err) != grpccodes.Canceled {
					t.Errorf("call = %v, want Canceled: its caller canceled it", err)
				}
			}()
			return <-first, done
		})
	})
}

// So for a client stream's hedged reply phase: its hedges run on the same call.
func TestStreamHedgeRefusedForTheDeadlineClosesTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = time.Hour
		p, clk, rec := delayPolicy(t, d)
		var hedges atomic.Int32
		nearDeadlineHedge(t, p, clk, d, &hedges, rec, func(ctx context.Context) (context.Context, <-chan struct{}) {
			var first context.Context
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				if first != nil {
					hedges.Add(1)
					return testkit.NewScriptedStream(ctx, false), nil
				}
				first = ctx
				return testkit.NewScriptedStream(ctx, true), nil
			}
			_, recovered := receiveOne(t, ctx, p, streamer)
			done := make(chan struct{})
			go func() { <-recovered; close(done) }()
			return first, done
		})
	})
}
