package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// errPanics is a caller's own context type whose Err panics once armed: the caller's code,
// which the call reads on the caller's goroutine, the hedge's and the hedge timer's.
type errPanics struct {
	context.Context
	armed *atomic.Bool
}

func (c errPanics) Err() error {
	if c.armed.Load() {
		panic("ctx boom")
	}
	return c.Context.Err()
}

type ctxKey struct{}

// panickingCtxs returns, by name, the caller's context as the call gets it: errPanics itself,
// and errPanics wrapped in a context of the standard library's that asks it for Err.
func panickingCtxs(armed *atomic.Bool) map[string]context.Context {
	own := errPanics{Context: context.Background(), armed: armed}
	return map[string]context.Context{
		"own":     own,
		"wrapped": context.WithValue(own, ctxKey{}, "v"),
	}
}

// isHedge reports whether ctx is a hedge's (it carries grpc-previous-rpc-attempts).
func isHedge(ctx context.Context) bool {
	md, _ := metadata.FromOutgoingContext(ctx)
	return len(md.Get(PreviousAttemptsKey)) > 0
}

// returned waits for the call's recovered panic; a call that has not returned within 10 s is
// deadlocked.
func returned(t *testing.T, got <-chan any) any {
	t.Helper()
	select {
	case v := <-got:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("the call has not returned after 10s: deadlocked")
		return nil
	}
}

// A caller's context whose Err panics when the call takes an attempt's outcome (settle, on
// the caller's goroutine for attempt 1, on the hedge's for a hedge) raises the panic on the
// caller's goroutine, once the other attempts were canceled and have returned, and runs the
// caller's grpc.OnFinish once with calloption.ErrPanicked. Err was read under the call's lock,
// which the panic left held: the call deadlocked as it unwound.
func TestSettleCtxErrPanicReachesTheCaller(t *testing.T) {
	for _, who := range []string{"attempt 1", "hedge"} {
		for _, name := range []string{"own", "wrapped"} {
			t.Run(who+"/"+name, func(t *testing.T) {
				armed := new(atomic.Bool)
				ctx := panickingCtxs(armed)[name]
				const d = 10 * time.Millisecond
				clk := clocktest.New(time.Time{})
				p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk))
				if err != nil {
					t.Fatal(err)
				}
				var hedges atomic.Int32
				invoker := func(actx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
					if isHedge(actx) {
						hedges.Add(1)
					}
					if isHedge(actx) == (who == "hedge") {
						armed.Store(true) // the attempt is under way: its outcome is taken next
						return nil
					}
					<-actx.Done() // the other attempt's end cancels it
					return status.FromContextError(actx.Err()).Err()
				}
				var f testkit.Finishes
				got := make(chan any, 1)
				go func() {
					defer func() { got <- recover() }()
					_ = p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker, f.Option())
				}()
				if who == "hedge" {
					clk.BlockUntil(1)
					clk.Advance(d)
				}
				if v := returned(t, got); v != "ctx boom" {
					t.Fatalf("the call's panic = %v, want the context's", v)
				}
				if errs := f.Errs(); len(errs) != 1 || errs[0] != calloption.ErrPanicked {
					t.Errorf("OnFinish ran %d times (%v), want once with calloption.ErrPanicked", len(errs), errs)
				}
				want := int32(0) // attempt 1 answered before the hedging delay
				if who == "hedge" {
					want = 1
				}
				if n := hedges.Load(); n != want {
					t.Errorf("%d hedges reached the service, want %d", n, want)
				}
			})
		}
	}
}

// A caller's context whose Err panics when the hedging timer fires (the timer reads it, on
// its own goroutine, to know whether the caller is still there) ends the call: attempt 1 is
// canceled, no hedge is sent or paid for, and the panic reaches the caller's goroutine, with
// the caller's grpc.OnFinish run once with calloption.ErrPanicked. It used to kill the process
// from the timer's goroutine.
func TestTimerCtxErrPanicReachesTheCaller(t *testing.T) {
	for _, name := range []string{"own", "wrapped"} {
		t.Run(name, func(t *testing.T) {
			armed := new(atomic.Bool)
			ctx := panickingCtxs(armed)[name]
			const d = 10 * time.Millisecond
			clk := clocktest.New(time.Time{})
			p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			var hedges atomic.Int32
			canceled := new(atomic.Bool)
			started := make(chan struct{})
			invoker := func(actx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				if isHedge(actx) {
					hedges.Add(1)
					return nil
				}
				armed.Store(true) // attempt 1 has started
				close(started)
				<-actx.Done()
				canceled.Store(true)
				return status.FromContextError(actx.Err()).Err()
			}
			allowance := p.method(compare).hedges
			var f testkit.Finishes
			got := make(chan any, 1)
			go func() {
				defer func() { got <- recover() }()
				_ = p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker, f.Option())
			}()
			clk.BlockUntil(1) // the hedge's timer is armed
			// and attempt 1 has armed the context: the timer may be armed first, and a timer
			// that fires before reads an Err that does not panic and sends the hedge.
			select {
			case <-started:
			case <-time.After(30 * time.Second):
				t.Fatal("attempt 1 did not start")
			}
			before := allowance.milli.Load()
			clk.Advance(d)
			if v := returned(t, got); v != "ctx boom" {
				t.Fatalf("the call's panic = %v, want the context's", v)
			}
			if !canceled.Load() {
				t.Error("attempt 1 was not canceled before the panic reached the caller")
			}
			if n := hedges.Load(); n != 0 {
				t.Errorf("%d hedges reached the service, want none", n)
			}
			if after := allowance.milli.Load(); after != before {
				t.Errorf("allowance %d -> %d milli-hedges, want none taken", before, after)
			}
			if errs := f.Errs(); len(errs) != 1 || errs[0] != calloption.ErrPanicked {
				t.Errorf("OnFinish ran %d times (%v), want once with calloption.ErrPanicked", len(errs), errs)
			}
		})
	}
}

// goneAfterFirstErr is a caller's context canceled right after the hedging timer read its Err
// (which said nil), whose Err panics from then on: its Done is nil (never canceled) until
// that first Err, then closed.
type goneAfterFirstErr struct {
	context.Context
	gone   atomic.Bool
	closed chan struct{}
}

func (c *goneAfterFirstErr) Done() <-chan struct{} {
	if c.gone.Load() {
		return c.closed
	}
	return nil
}

func (c *goneAfterFirstErr) Err() error {
	if c.gone.Swap(true) {
		panic("ctx boom")
	}
	return nil
}

// A caller's context that ends, with an Err that panics, between the timer's reserving the
// hedge and the hedge's start (which derives the hedge's context from it: the standard library
// then reads its Err) ends the call: attempt 1 is canceled, the hedge is not sent, and the
// panic reaches the caller's goroutine. The hedge's goroutine made that context before it
// could recover anything, and the panic killed the process.
func TestHedgeContextCtxErrPanicReachesTheCaller(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	var hedges atomic.Int32
	canceled := new(atomic.Bool)
	invoker := func(actx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if isHedge(actx) {
			hedges.Add(1)
			return nil
		}
		<-actx.Done()
		canceled.Store(true)
		return status.FromContextError(actx.Err()).Err()
	}
	ctx := &goneAfterFirstErr{Context: context.Background(), closed: make(chan struct{})}
	close(ctx.closed)
	var f testkit.Finishes
	got := make(chan any, 1)
	go func() {
		defer func() { got <- recover() }()
		_ = p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker, f.Option())
	}()
	clk.BlockUntil(1)
	clk.Advance(d)
	if v := returned(t, got); v != "ctx boom" {
		t.Fatalf("the call's panic = %v, want the context's", v)
	}
	if !canceled.Load() {
		t.Error("attempt 1 was not canceled before the panic reached the caller")
	}
	if n := hedges.Load(); n != 0 {
		t.Errorf("%d hedges reached the service, want none", n)
	}
	if errs := f.Errs(); len(errs) != 1 || errs[0] != calloption.ErrPanicked {
		t.Errorf("OnFinish ran %d times (%v), want once with calloption.ErrPanicked", len(errs), errs)
	}
}
