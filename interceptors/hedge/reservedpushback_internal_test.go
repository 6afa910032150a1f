package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// gateClock is a fake clock that, once, holds the first Now read after a timer's callback
// began (a hedge's start, right after the timer reserved it), the callback that follows the
// first skip ones, until release is closed, having closed held: the test acts in between.
type gateClock struct {
	*clocktest.Fake
	skip          atomic.Int32
	gate          atomic.Bool
	held, release chan struct{}
}

func newGateClock(skip int32) *gateClock {
	g := &gateClock{Fake: clocktest.New(time.Now()), held: make(chan struct{}), release: make(chan struct{})}
	g.skip.Store(skip)
	return g
}

func (g *gateClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return g.Fake.AfterFunc(d, func() {
		if g.skip.Add(-1) == -1 { // once
			g.gate.Store(true)
		}
		f()
	})
}

func (g *gateClock) Now() time.Time {
	if g.gate.CompareAndSwap(true, false) {
		close(g.held)
		<-g.release
	}
	return g.Fake.Now()
}

// pushbackFailure returns Unavailable with a grpc-retry-pushback-ms of ms in the trailer.
func pushbackFailure(ms string, opts []grpc.CallOption) error {
	for _, o := range opts {
		if t, ok := o.(grpc.TrailerCallOption); ok {
			*t.TrailerAddr = metadata.Pairs("grpc-retry-pushback-ms", ms)
		}
	}
	return status.Error(grpccodes.Unavailable, "overloaded")
}

// The hedging timer has fired and reserved the hedge, which has not started yet, when attempt
// 1 fails with a server pushback delay: the server asked the client to wait, and the hedge,
// due before the delay has passed, is held back as an armed one is. With attempt 1 the only
// one in flight, the call then fails with its failure, for the retry loop to honour the
// pushback; the hedge never goes. It used to go out at once.
func TestReservedHedgeHonoursPushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := newGateClock(0)
		p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		var attempts atomic.Int32
		fail := make(chan struct{})
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
			if attempts.Add(1) > 1 {
				return nil // a hedge: it would win
			}
			<-fail
			return pushbackFailure("1000", opts)
		}
		done := startCompare(context.Background(), p, invoker)
		synctest.Wait()
		go clk.Advance(d) // the timer fires and reserves the hedge, whose start is held
		<-clk.held
		close(fail)
		synctest.Wait() // attempt 1's failure is taken
		close(clk.release)
		err = <-done
		if status.Code(err) != grpccodes.Unavailable {
			t.Errorf("err = %v, want attempt 1's Unavailable", err)
		}
		if n := attempts.Load(); n != 1 {
			t.Errorf("%d attempts sent, want 1: the reserved hedge went out inside the server's 1s pushback", n)
		}
	})
}

// As TestReservedHedgeHonoursPushback, with attempt 1 still in flight: hedge 2 fails with a
// pushback delay of 1s after the timer reserved hedge 3, which waits until the delay has
// passed, then goes (with its number, 3) and wins.
func TestReservedHedgeWaitsOutPushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := newGateClock(1)
		p, err := New(Config{MaxAttempts: 3, Delay: d, Idempotent: true}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		var attempts atomic.Int32
		fail := make(chan struct{})
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
			md, _ := metadata.FromOutgoingContext(ctx)
			attempts.Add(1)
			switch prev := md.Get(PreviousAttemptsKey); {
			case len(prev) == 0:
				<-ctx.Done() // attempt 1 stalls
				return status.FromContextError(ctx.Err()).Err()
			case prev[0] == "1":
				<-fail
				return pushbackFailure("1000", opts)
			case prev[0] != "2":
				t.Errorf("a hedge carries %s %v, want 2", PreviousAttemptsKey, prev)
			}
			return nil
		}
		done := startCompare(context.Background(), p, invoker)
		synctest.Wait()
		clk.Advance(d) // hedge 2
		synctest.Wait()
		go clk.Advance(d) // the timer reserves hedge 3, whose start is held
		<-clk.held
		close(fail)
		synctest.Wait() // hedge 2's failure is taken
		close(clk.release)
		synctest.Wait()
		if n := attempts.Load(); n != 2 {
			t.Fatalf("%d attempts sent, want 2: hedge 3 went out inside the server's 1s pushback", n)
		}
		clk.Advance(time.Second - d)
		synctest.Wait()
		if n := attempts.Load(); n != 2 {
			t.Fatalf("%d attempts sent %v after hedge 3 was due, want 2: the pushback has not passed", n, time.Second-d)
		}
		clk.Advance(d)
		if err := <-done; err != nil {
			t.Fatalf("err = %v, want hedge 3's success once the pushback passed", err)
		}
		if n := attempts.Load(); n != 3 {
			t.Errorf("%d attempts sent, want 3", n)
		}
	})
}
