package retry_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestUnaryObserverPanicReleases: an observer that panics on an event of a unary call's retry
// loop (an attempt's AttemptFinished, after a failure, a success or a retry; RetryScheduled;
// RetriesExhausted) makes the call panic with its value, and leaves nothing held: the
// bulkhead's permit below the loop is back, every attempt's context is canceled, no timer
// (per-attempt timeout, backoff sleep) stays armed, and no further attempt is made.
func TestUnaryObserverPanicReleases(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	for _, tc := range []struct {
		name     string
		kind     observe.Kind
		attempt  int // the Attempt of the event that panics
		max      int
		errs     []error // each attempt's
		wantSent int
		sleeps   bool // the call sleeps before the panic: a driver moves the clock
	}{
		{"AttemptFinished", observe.AttemptFinished, 1, 3, []error{unavailable}, 1, false},
		{"RetryScheduled", observe.RetryScheduled, 1, 3, []error{unavailable}, 1, false},
		{"RetriesExhausted", observe.RetriesExhausted, 1, 1, []error{unavailable}, 1, false},
		{"Success", observe.AttemptFinished, 1, 3, []error{nil}, 1, false},
		{"Retried", observe.AttemptFinished, 2, 3, []error{unavailable, unavailable}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			var sink observe.Sink = observe.SinkFunc(func(e observe.Event) {
				if e.Kind == tc.kind && e.Attempt == tc.attempt {
					panic("observer boom")
				}
			})
			drv := &driver{}
			if tc.sleeps {
				drv = newDriver(t, clk, 0) // no other timer during a sleep: each attempt's is stopped
				sink = observe.Multi(sink, drv)
			}
			p, err := retry.New(retry.Config{MaxAttempts: tc.max, Idempotent: true, PerAttemptTimeout: 5 * time.Second, Budget: 10 * time.Second},
				retry.WithClock(clk), retry.WithRand(seq(0.5)), retry.WithObserver(sink))
			if err != nil {
				t.Fatal(err)
			}
			bh, err := bulkhead.New("bh", bulkhead.Config{MaxConcurrent: 1})
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu   sync.Mutex
				ctxs []context.Context
			)
			attempt := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				mu.Lock()
				defer mu.Unlock()
				ctxs = append(ctxs, ctx)
				return tc.errs[len(ctxs)-1]
			}
			invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				return bh.Unary()(ctx, method, req, reply, cc, attempt, opts...)
			}
			callPanicking(t, p, invoker, "observer boom")
			drv.stop()
			if n := bh.InFlight(); n != 0 {
				t.Errorf("%d bulkhead permits held after the observer panicked, want 0", n)
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers still armed after the observer panicked, want 0", n)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(ctxs) != tc.wantSent {
				t.Errorf("%d attempts made, want %d", len(ctxs), tc.wantSent)
			}
			for i, ctx := range ctxs {
				if ctx.Err() == nil {
					t.Errorf("attempt %d's context is still live after the observer panicked", i+1)
				}
			}
		})
	}
}

// TestUnaryAttemptPanicReleasesItsContext: an attempt that panics (the invoker below the loop,
// on the first attempt or on a retry) takes its per-attempt context and that context's timer
// with it: the context is canceled and no timer stays armed once the panic has reached the
// caller. They used to live on until the per-attempt timeout fired.
func TestUnaryAttemptPanicReleasesItsContext(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	for _, panicAt := range []int{1, 2} {
		t.Run("attempt "+strconv.Itoa(panicAt), func(t *testing.T) {
			clk := clocktest.New(time.Now())
			drv := newDriver(t, clk, 0)
			p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true, PerAttemptTimeout: 5 * time.Second, Budget: 10 * time.Second},
				retry.WithClock(clk), retry.WithRand(seq(0.5)), retry.WithObserver(drv))
			if err != nil {
				t.Fatal(err)
			}
			var ctxs []context.Context
			invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				ctxs = append(ctxs, ctx)
				if len(ctxs) == panicAt {
					panic("invoker boom")
				}
				return unavailable
			}
			callPanicking(t, p, invoker, "invoker boom")
			drv.stop()
			if len(ctxs) != panicAt {
				t.Fatalf("%d attempts made, want %d", len(ctxs), panicAt)
			}
			if _, ok := ctxs[panicAt-1].Deadline(); !ok {
				t.Fatal("the attempt had no deadline: the test does not reach a per-attempt context")
			}
			if ctxs[panicAt-1].Err() == nil {
				t.Error("the panicking attempt's context is still live")
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers still armed after the attempt panicked, want 0", n)
			}
		})
	}
}

// callPanicking makes a unary call of Compare through p over invoker, and checks that it
// panics with want.
func callPanicking(t *testing.T, p *retry.Policy, invoker grpc.UnaryInvoker, want string) {
	t.Helper()
	defer func() {
		if v := recover(); v != want {
			t.Fatalf("recovered %v, want the panic %q", v, want)
		}
	}()
	_ = p.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker)
}
