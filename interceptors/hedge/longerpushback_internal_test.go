package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Two pushbacks reach a hedge the timer reserved but has not started: the longer first, then
// a shorter one. The hedge waits for the longer to pass: a later, shorter pushback does not
// shorten what the server asked for before. Attempt 1 stays in flight throughout.
func TestReservedHedgeWaitsOutTheLongerPushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := newGateClock(2) // holds hedge 4's start
		p, err := New(Config{MaxAttempts: 4, Delay: d, Idempotent: true}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		var attempts atomic.Int32
		fail2, fail3 := make(chan struct{}), make(chan struct{})
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
			md, _ := metadata.FromOutgoingContext(ctx)
			attempts.Add(1)
			switch prev := md.Get(PreviousAttemptsKey); {
			case len(prev) == 0:
				<-ctx.Done() // attempt 1 stalls
				return status.FromContextError(ctx.Err()).Err()
			case prev[0] == "1":
				<-fail2
				return pushbackFailure("1000", opts)
			case prev[0] == "2":
				<-fail3
				return pushbackFailure("10", opts)
			}
			return nil // hedge 4 wins
		}
		done := startCompare(context.Background(), p, invoker)
		synctest.Wait()
		clk.Advance(d) // hedge 2
		synctest.Wait()
		clk.Advance(d) // hedge 3
		synctest.Wait()
		go clk.Advance(d) // the timer reserves hedge 4, whose start is held
		<-clk.held
		close(fail2) // 1s pushback
		synctest.Wait()
		close(fail3) // then 10ms
		synctest.Wait()
		close(clk.release)
		synctest.Wait()
		clk.Advance(100 * time.Millisecond)
		synctest.Wait()
		if n := attempts.Load(); n != 3 {
			t.Fatalf("%d attempts sent 100ms after two pushbacks of 1s and 10ms, want 3: hedge 4 went out inside the 1s pushback", n)
		}
		clk.Advance(time.Second)
		if err := <-done; err != nil {
			t.Fatalf("err = %v, want hedge 4's success once the 1s pushback passed", err)
		}
		if n := attempts.Load(); n != 4 {
			t.Errorf("%d attempts sent, want 4", n)
		}
	})
}
