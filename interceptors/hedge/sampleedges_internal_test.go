package hedge

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// An attempt canceled because another won, once it had run exactly the delay, is a latency
// sample ("once they had run at least the delay"): here attempt 1, canceled at the delay by
// the hedge that answered at once, and the hedge, two samples.
func TestLoserCanceledAtTheDelayIsASample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := clocktest.New(time.Now())
		p, err := New(Config{MaxAttempts: 2, Delay: d, Percentile: 0.95, Idempotent: true}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		est := p.method(compare).est
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
				return nil // the hedge answers at once, at the delay
			}
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
		done := startCompare(context.Background(), p, invoker)
		synctest.Wait()
		clk.Advance(d)
		if err := <-done; err != nil {
			t.Fatalf("the call ended with %v, want the hedge's answer", err)
		}
		if got := est.count.Load(); got != 2 {
			t.Fatalf("%d latency samples, want 2: the hedge's and attempt 1's, canceled having run the delay", got)
		}
	})
}

// Past the first answers the delay is recomputed every n/8 samples, but at least every
// Window/8: with a window of 80, every 10 samples once 160 are known. After 160 fast answers
// and 50 slow ones, the 210th sample recomputes, and the median of the window (50 slow, 30
// fast) is the slow answer.
func TestDelayRecomputedAtLeastEveryEighthOfTheWindow(t *testing.T) {
	e := newEstimator(Normalize(Config{Percentile: 0.5, Window: 80, MinSamples: 10, Delay: 5 * time.Millisecond}))
	for range 160 {
		e.record(10 * time.Millisecond)
	}
	if got := e.current(); got != 10*time.Millisecond {
		t.Fatalf("delay %v after 160 answers of 10ms, want 10ms", got)
	}
	for range 50 {
		e.record(time.Second)
	}
	if got := e.current(); got != time.Second {
		t.Fatalf("delay %v after 160 answers of 10ms then 50 of 1s in a window of 80, want 1s: recomputed at 210, a multiple of Window/8", got)
	}
}
