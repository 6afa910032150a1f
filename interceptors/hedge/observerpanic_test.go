package hedge

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
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

// hedgePanicStopsTheCall makes a call of p whose attempt 1 answers only when canceled, lets the
// hedging delay d pass on clk, and checks that the hedge's panic, "observer boom", reached the
// caller, attempt 1 canceled, and that no further request was sent.
func hedgePanicStopsTheCall(t *testing.T, p *Policy, clk *clocktest.Fake, d time.Duration) {
	t.Helper()
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(ctx context.Context) (metadata.MD, error) {
			<-ctx.Done() // canceled as the call stops, on the hedge's panic
			return nil, ctx.Err()
		},
	})
	raisesOnceTheDelayPasses(t, p, s, clk, d, "observer boom")
	s.none(t)
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

// An observer that panics on attempt 1's AttemptFinished, sent on the caller's goroutine once
// attempt 1 has failed, abandons the call on the panic's way to the caller, as a panic of
// attempt 1 itself does: the hedge still running is canceled and has returned, no further
// hedge stays armed, and none is sent. The panic used to leave the hedge running, and the
// timer armed for the next one.
func TestAttemptOneFinishedObserverPanicStopsTheHedges(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	p, err := New(Config{MaxAttempts: 3, Delay: d}, WithClock(clk), WithObserver(firstFinishedPanicking))
	if err != nil {
		t.Fatal(err)
	}
	// Ends what the call leaves running should it not end it: goleak is not the first to tell.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	release := make(chan struct{})
	hedgeReturned := make(chan struct{})
	s := newScripted(map[int]func(context.Context) (metadata.MD, error){
		1: func(context.Context) (metadata.MD, error) {
			<-release
			return nil, errUnavailable // retryable: the hedge goes on
		},
		2: func(ctx context.Context) (metadata.MD, error) {
			defer close(hedgeReturned)
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, s.invoke)
	}()
	s.waitFor(t, 1)
	clk.BlockUntil(1)
	clk.Advance(d)
	s.waitFor(t, 2) // the hedge is out, and the timer armed for the next
	close(release)
	if v := <-recovered; v != "observer boom" {
		t.Fatalf("recovered %v, want the observer's panic", v)
	}
	select {
	case <-hedgeReturned:
	default:
		t.Error("the hedge still runs after the call panicked")
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers armed after the call panicked, want 0", n)
	}
	clk.Advance(d)
	s.none(t)
}

// firstFinishedPanicking is an observer that panics with "observer boom" on attempt 1's
// AttemptFinished, which the caller's goroutine sends.
var firstFinishedPanicking = observe.SinkFunc(func(e observe.Event) {
	if e.Kind == observe.AttemptFinished && e.Attempt == 1 {
		panic("observer boom")
	}
})

// hedgeSentPanicking is an observer that panics with "observer boom" on HedgeSent.
var hedgeSentPanicking = observe.SinkFunc(func(e observe.Event) {
	if e.Kind == observe.HedgeSent {
		panic("observer boom")
	}
})

// A hedge whose HedgeSent panics in the observer never goes out: what it took from the
// method's allowance of losing hedges is given back. The retry-budget token it took stays
// taken when the Budget is no Refunder, which has no way to give one back (a Refunder's:
// TestHedgeSentObserverPanicReportsTheHedge).
func TestHedgeSentObserverPanicRefundsTheAllowance(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	b := &granting{}
	p, err := New(Config{MaxAttempts: 2, Delay: d}, WithClock(clk), WithObserver(hedgeSentPanicking), WithBudget(b))
	if err != nil {
		t.Fatal(err)
	}
	// Below the cap, so that the refund shows.
	const before = 5000
	p.method(compare).hedges.milli.Store(before)
	hedgePanicStopsTheCall(t, p, clk, d)
	// The call's deposit only: the hedge's take was refunded.
	if got, want := p.method(compare).hedges.milli.Load(), before+shareMilli; got != want {
		t.Errorf("allowance %d milli-hedges, want %d (the unsent hedge's refunded)", got, want)
	}
	if got := b.taken.Load(); got != 1 {
		t.Errorf("%d retry-budget tokens taken, want 1", got)
	}
}

// replyFailing is an attempt stream whose RecvMsg waits for release, then fails with
// Unavailable, a status the hedged reply phase does not decide on.
type replyFailing struct {
	*testkit.ScriptedStream
	release chan struct{}
}

func (s replyFailing) RecvMsg(any) error {
	<-s.release
	return errUnavailable
}

// recvNoting is an attempt stream whose RecvMsg closes returned once it has returned.
type recvNoting struct {
	*testkit.ScriptedStream
	returned chan struct{}
}

func (s recvNoting) RecvMsg(m any) error {
	defer close(s.returned)
	return s.ScriptedStream.RecvMsg(m)
}

// An observer that panics on attempt 1's AttemptFinished in the hedged reply phase of a client
// stream, sent on the caller's goroutine once attempt 1's receive failed, abandons the phase
// on the panic's way to the caller, as a panic of attempt 1's receive does: the hedge still
// receiving is canceled and has returned, no further hedge stays armed, and the stream
// releases attempt 1's context and the replay buffer. The panic used to leave the hedge
// running, the timer armed, and the buffer kept.
func TestStreamReplyObserverPanicReleases(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	p, err := New(Config{MaxAttempts: 3, Delay: d}, WithClock(clk), WithObserver(firstFinishedPanicking))
	if err != nil {
		t.Fatal(err)
	}
	caller, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	release := make(chan struct{})
	hedgeReturned := make(chan struct{})
	hedgeOpened := make(chan struct{}, 1)
	var (
		mu     sync.Mutex
		opened []context.Context
	)
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, ctx)
		if len(opened) == 1 {
			return replyFailing{testkit.NewScriptedStream(ctx, false), release}, nil
		}
		hedgeOpened <- struct{}{}
		return recvNoting{testkit.NewScriptedStream(ctx, true), hedgeReturned}, nil // answers only when canceled
	}
	cs, recovered := receiveOne(t, caller, p, streamer)
	clk.BlockUntil(1)
	clk.Advance(d)
	<-hedgeOpened     // the hedge is out
	clk.BlockUntil(1) // and the timer armed for the next
	close(release)
	if v := <-recovered; v != "observer boom" {
		t.Fatalf("recovered %v, want the observer's panic", v)
	}
	select {
	case <-hedgeReturned:
	default:
		t.Error("the hedge still receives after the reply phase panicked")
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers armed after the reply phase panicked, want 0", n)
	}
	mu.Lock()
	first := opened[0]
	mu.Unlock()
	if first.Err() == nil {
		t.Error("attempt 1's context is still live after the reply phase panicked")
	}
	s := streamOf(t, cs)
	s.mu.Lock()
	kept := len(s.buf.Msgs())
	s.mu.Unlock()
	if kept != 0 {
		t.Errorf("%d sent messages still kept for replay after the reply phase panicked", kept)
	}
}

// receiveOne is receiveInto with a reply of its own.
func receiveOne(t *testing.T, ctx context.Context, p *Policy, streamer grpc.Streamer) (grpc.ClientStream, <-chan any) {
	t.Helper()
	return receiveInto(t, ctx, p, streamer, &kycv1.CheckResponse{})
}
