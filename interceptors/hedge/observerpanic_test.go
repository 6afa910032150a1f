package hedge

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// finishedPanicking is an observer that records every event, then panics with "observer
// boom" on the AttemptFinished of the hedge (attempt 2), which the hedge's goroutine sends.
type finishedPanicking struct {
	mu     sync.Mutex
	events []observe.Event
}

func (o *finishedPanicking) Observe(e observe.Event) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
	if e.Kind == observe.AttemptFinished && e.Attempt == 2 {
		panic("observer boom")
	}
}

// count returns how many events of kind k for attempt n the observer was given.
func (o *finishedPanicking) count(k observe.Kind, n int) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := 0
	for _, e := range o.events {
		if e.Kind == k && e.Attempt == n {
			c++
		}
	}
	return c
}

// checkOnce checks that each attempt of a call of two was reported once (its AttemptFinished,
// the hedge's HedgeSent) and that no HedgeWon was sent: the call panicked instead.
func (o *finishedPanicking) checkOnce(t *testing.T) {
	t.Helper()
	for _, c := range []struct {
		kind observe.Kind
		n    int
		want int
	}{
		{observe.AttemptFinished, 1, 1},
		{observe.AttemptFinished, 2, 1},
		{observe.HedgeSent, 2, 1},
		{observe.HedgeWon, 2, 0},
	} {
		if got := o.count(c.kind, c.n); got != c.want {
			t.Errorf("%d %v events of attempt %d, want %d", got, c.kind, c.n, c.want)
		}
	}
}

// An observer that panics on a hedge's AttemptFinished (sent from the hedge's goroutine, once
// the hedge has won) makes the call panic on the caller's goroutine, as a panic on HedgeSent
// does; the panic used to be raised in the hedge's goroutine, which killed the process. The
// hedge is counted once: one AttemptFinished each, one retry-budget token, and the allowance
// of losing hedges refunded once for the hedge that won.
func TestAttemptFinishedObserverPanicReachesTheCaller(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	obs := &finishedPanicking{}
	b := &granting{}
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(obs), WithBudget(b))
	if err != nil {
		t.Fatal(err)
	}
	// Below the cap, so that a second refund would show.
	const before = 5000
	p.method(compare).hedges.milli.Store(before)
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(ctx context.Context) (metadata.MD, error) {
			<-ctx.Done() // canceled as the hedge wins
			return nil, ctx.Err()
		},
		2: func(context.Context) (metadata.MD, error) { return nil, nil },
	})
	raisesOnceTheDelayPasses(t, p, s, clk, d, "observer boom")
	s.waitFor(t, 2)
	s.none(t)
	obs.checkOnce(t)
	// The call's deposit, the hedge's take, the refund of the hedge that won.
	if got, want := p.method(compare).hedges.milli.Load(), before+shareMilli-1000+1000; got != want {
		t.Errorf("allowance %d milli-hedges, want %d", got, want)
	}
	if got := b.taken.Load(); got != 1 {
		t.Errorf("%d retry-budget tokens taken, want 1", got)
	}
}

// When the observer panics on the AttemptFinished of a hedge whose outcome the call has
// taken, the hedge has left the attempts in flight once, not twice: while attempt 1 runs on,
// one attempt is in flight, and none once it has finished; the call raises the observer's
// panic. The call is driven here as Unary drives it, so that its state can be read.
func TestAttemptFinishedObserverPanicLeavesOnce(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	obs := &finishedPanicking{}
	b := &granting{}
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(obs), WithBudget(b))
	if err != nil {
		t.Fatal(err)
	}
	m := p.method(compare)
	var pc attempt.PerCall
	c := p.newCall(context.Background(), m, &pc, nil, &kycv1.CompareResponse{})
	c.method, c.req = compare, &kycv1.CompareRequest{}
	c.invoker = func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return nil // the hedge wins
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	c.begin(cancel1, time.Time{}) // attempt 1 is under way
	clk.Advance(d)                // the hedge goes out, wins, and its AttemptFinished panics
	c.wg.Wait()                   // the hedge has returned
	c.mu.Lock()
	inflight, winner, panicked := c.inflight, c.winner, c.panicked
	c.mu.Unlock()
	if !panicked {
		t.Fatal("the call did not take the observer's panic")
	}
	if inflight != 1 || winner != 2 {
		t.Errorf("after the hedge: %d attempts in flight, winner %d; want 1 (attempt 1), 2", inflight, winner)
	}
	if ctx1.Err() == nil {
		t.Error("attempt 1 was not canceled when the hedge won")
	}
	c.finish(1, c.start, status.Error(grpccodes.Canceled, "canceled"), nil, nil)
	c.mu.Lock()
	inflight = c.inflight
	c.mu.Unlock()
	if inflight != 0 {
		t.Errorf("%d attempts in flight once both have finished, want 0", inflight)
	}
	if n, err := c.wait(nil); n != 0 || err != nil {
		t.Errorf("wait = %d, %v; want 0, nil (the caller raises the panic)", n, err)
	}
	if v, ok := c.raised(); !ok || v != "observer boom" {
		t.Errorf("raised %v, %v; want the observer's panic", v, ok)
	}
	c.release()
	obs.checkOnce(t)
	if got := b.taken.Load(); got != 1 {
		t.Errorf("%d retry-budget tokens taken, want 1", got)
	}
	if got := m.hedges.milli.Load(); got != burstMilli {
		t.Errorf("allowance %d milli-hedges, want %d (the hedge won: refunded)", got, burstMilli)
	}
}

// raisesOnceTheDelayPasses makes a call of p over s, lets the hedging delay d pass on clk once
// attempt 1 is under way, and checks that the call raised want on the caller's goroutine.
func raisesOnceTheDelayPasses(t *testing.T, p *Policy, s *scripted, clk *clocktest.Fake, d time.Duration, want any) {
	t.Helper()
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke)
	}()
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.Advance(d)
	if v := <-recovered; v != want {
		t.Fatalf("recovered %v, want %v", v, want)
	}
}
