package interceptors_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// onlyBulkhead returns the suite's one bulkhead (every test here has one service).
func onlyBulkhead(c *composed) *bulkhead.Bulkhead {
	for _, b := range c.s.Bulkheads() {
		return b
	}
	return nil
}

// onlyThrottle returns the suite's one adaptive throttle.
func onlyThrottle(c *composed) *throttle.Throttle {
	for _, t := range c.s.Throttles() {
		return t
	}
	return nil
}

// An attempt a full bulkhead refuses is not sent and not retried, and counts as a failure
// neither in the breaker (tripping at one failure) nor in the adaptive throttle, above it.
func TestComposeFullBulkheadRefusalCountsNowhere(t *testing.T) {
	p := fullProfile()
	p.Hedge, p.Fallback = nil, nil
	p.Bulkhead = &bulkhead.Config{MaxConcurrent: 1}
	c := composeAll(t, p)
	release := testkit.Hold(context.Background(), c.s.Unary(), testkit.MethodCompare)
	th := onlyThrottle(c)
	req0, acc0 := th.Counts()
	inv := &scriptedInvoker{errs: []error{nil}}
	var out kycv1.CompareResponse
	err := c.call(context.Background(), inv, &out)
	if status.Code(err) == grpccodes.OK || inv.n != 0 {
		t.Fatalf("call into a full bulkhead = %v, %d sent; want a refusal, none sent", err, inv.n)
	}
	if n := c.rec.Count(observe.RetryScheduled); n != 0 {
		t.Errorf("%d retries scheduled after a refusal; want none", n)
	}
	if st := c.breakerState(t); st != breaker.Closed {
		t.Errorf("breaker %v after a bulkhead's refusal; want closed", st)
	}
	if req, acc := th.Counts(); req != req0 || acc != acc0 {
		t.Errorf("throttle counts %d requests %d accepts after a refusal; want %d, %d as before", req, acc, req0, acc0)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if b := onlyBulkhead(c); b.InFlight() != 0 {
		t.Errorf("bulkhead holds %d after every call ended; want 0", b.InFlight())
	}
}

// A hedge that wins cancels the attempt it beat; the loser's Canceled counts as nothing in the
// breaker (tripping at one failure) and the throttle, and its bulkhead slot comes back.
func TestComposeHedgeLoserReleasesItsSlot(t *testing.T) {
	p := fullProfile()
	p.Fallback = nil
	p.Hedge.Delay = 10 * time.Millisecond
	c := composeAll(t, p)
	var (
		mu sync.Mutex
		n  int
	)
	loserErr := make(chan error, 1)
	inv := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			// The hedging policy armed its timer before it sent attempt 1: the hedge goes out
			// 10ms later, far from the budget's end (8s).
			go c.clk.Advance(10 * time.Millisecond)
			<-ctx.Done()
			loserErr <- ctx.Err()
			return status.FromContextError(ctx.Err()).Err()
		}
		return nil
	}
	err := c.s.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, inv)
	if err != nil {
		t.Fatalf("hedged call = %v; want the hedge's success", err)
	}
	if e := <-loserErr; !errors.Is(e, context.Canceled) {
		t.Errorf("loser's context ended with %v; want Canceled", e)
	}
	if c.rec.Count(observe.HedgeWon) != 1 {
		t.Errorf("HedgeWon %d; want 1", c.rec.Count(observe.HedgeWon))
	}
	if st := c.breakerState(t); st != breaker.Closed {
		t.Errorf("breaker %v after a hedge won; want closed", st)
	}
	if b := onlyBulkhead(c); b.InFlight() != 0 {
		t.Errorf("bulkhead holds %d after the call; want 0", b.InFlight())
	}
	if req, acc := onlyThrottle(c).Counts(); req != 1 || acc != 1 {
		t.Errorf("throttle counts %d requests, %d accepts; want 1, 1 (the loser's cancel counts as nothing)", req, acc)
	}
}

// A backoff that would end past the call budget is not slept: the call ends at once, with the
// clock where it was, for reason budget: the budget reaches the retry loop both as its time
// budget and as the call's declared deadline (the deadline step's, which the budget caps:
// retry.Policy.InvokeWithin), one instant, and a tie is the budget's.
func TestComposeBackoffPastTheBudgetIsNotSlept(t *testing.T) {
	p := fullProfile()
	p.Hedge, p.Fallback = nil, nil
	p.Retry = &retry.Config{MaxAttempts: 3, InitialBackoff: time.Second, MaxBackoff: time.Second, Jitter: retry.JitterNone, Idempotent: true}
	p.Breaker.ConsecutiveFailures = 5
	c := composeAll(t, p)
	st := c.s.Config()
	st.Budget = 500 * time.Millisecond
	if err := c.s.Reload(st); err != nil {
		t.Fatal(err)
	}
	start := c.clk.Now()
	inv := &scriptedInvoker{errs: []error{unavailable()}}
	// Nothing moves the clock: a call that slept would never return.
	done := make(chan error, 1)
	go func() {
		done <- c.s.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, inv.invoke)
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the call has not returned: it sleeps a backoff past the budget (%d timers on the clock)", c.clk.Timers())
	}
	info, ok := retry.InfoOf(err)
	if status.Code(err) != grpccodes.Unavailable || inv.n != 1 || !ok || info.Reason != observe.ReasonBudget {
		t.Fatalf("call = %v after %d attempts (info %+v); want Unavailable, reason budget, after 1", err, inv.n, info)
	}
	if d := c.clk.Since(start); d != 0 {
		t.Errorf("the clock moved %v; want no sleep", d)
	}
}
