package hedge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// hedgeTwoPanics is a gate that may make a call wait, and panics with "gate boom" as hedge 2
// enters it (an observer that panicked on the event of its admission); it admits the others.
type hedgeTwoPanics struct{}

func (hedgeTwoPanics) Enter(context.Context, string, []grpc.CallOption) (section.Pass, error) {
	return section.Pass{}, nil
}

func (hedgeTwoPanics) EnterConn(ctx context.Context, _ *grpc.ClientConn, _ string, _ []grpc.CallOption) (section.Pass, error) {
	if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 && md.Get(PreviousAttemptsKey)[0] == "1" {
		panic("gate boom")
	}
	return section.Pass{}, nil
}

func (hedgeTwoPanics) Exit(context.Context, string, []grpc.CallOption, section.Pass, error, bool) {}

func (g hedgeTwoPanics) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeConnGate(g, ctx, method, req, reply, cc, opts, next)
}

// A hedge whose gate below panics as it waits there, the panic recovered on its way up by an
// interceptor between the gate and the hedging policy (here into Unavailable), has left the
// gate for the policy: the next hedge is sent a delay later, and wins. The gate's runner told
// the policy that the hedge waited and never that it left, so that the call counted an attempt
// waiting at a gate for the rest of its life and sent no further hedge: it lasted as long as
// its slow attempt 1.
func TestRecoveredGatePanicLeavesTheCallHedging(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	sent := make(chan int, 3)
	finished2 := make(chan struct{})
	sink := observe.SinkFunc(func(e observe.Event) {
		switch {
		case e.Kind == observe.HedgeSent:
			sent <- e.Attempt
		case e.Kind == observe.AttemptFinished && e.Attempt == 2:
			close(finished2)
		}
	})
	p, err := New(Config{MaxAttempts: 3, Delay: d}, WithClock(clk), WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	past := make(chan struct{}) // attempt 1 is past its gate
	answer := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) == 0 {
			close(past)
			<-ctx.Done() // attempt 1: slow, canceled once a hedge wins (or the test ends)
			return ctx.Err()
		}
		return nil
	}
	recovering := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = status.Error(grpccodes.Unavailable, fmt.Sprint(v))
			}
		}()
		return section.InvokeConnGate(hedgeTwoPanics{}, ctx, method, req, reply, cc, opts, section.NextInvoker(answer))
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // ends the call should no hedge win it
	done := make(chan error, 1)
	go func() {
		done <- p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, recovering)
	}()
	// Attempt 1 past its gate, and so no longer counted waiting there: a timer that fired
	// while it was would send no hedge and arm itself again a delay later (see onTimer).
	<-past
	clk.BlockUntil(1)
	clk.Advance(d) // hedge 2 goes; its gate panics, and it fails Unavailable
	select {
	case n := <-sent:
		if n != 2 {
			t.Fatalf("HedgeSent of attempt %d, want 2", n)
		}
	case <-time.After(10 * time.Second): // a margin for a loaded machine: hedge 2 goes at once
		t.Fatal("no hedge 2 was sent a delay after attempt 1 passed its gate")
	}
	<-finished2
	clk.Advance(d) // the timer hedge 2 armed fires
	select {
	case n := <-sent:
		if n != 3 {
			t.Fatalf("HedgeSent of attempt %d, want 3", n)
		}
	case <-time.After(10 * time.Second): // a margin for a loaded machine: hedge 3 goes at once
		t.Fatal("no hedge 3 was sent a delay after hedge 2's gate panicked: the call still counted hedge 2 waiting at its gate")
	}
	if err := <-done; err != nil {
		t.Errorf("the call returned %v, want hedge 3's success", err)
	}
}
