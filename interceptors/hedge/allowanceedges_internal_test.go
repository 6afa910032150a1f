package hedge

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// An allowance holding exactly one hedge pays for it, and is then empty: the hedge the
// allowance can pay is sent, only the one it cannot is not (MaxHedgeShare).
func TestAllowancePaysItsLastWholeHedge(t *testing.T) {
	var a allowance
	a.milli.Store(1000)
	if !a.take() {
		t.Fatal("take() = false with one whole hedge in the allowance, want it paid")
	}
	if got := a.milli.Load(); got != 0 {
		t.Fatalf("allowance %d milli-hedges after paying its last hedge, want 0", got)
	}
	if a.take() {
		t.Fatal("take() = true with an empty allowance")
	}
	a.milli.Store(999)
	if a.take() {
		t.Fatal("take() = true with 999 milli-hedges, less than one hedge")
	}
}

// A hedge refused by a policy below (Rejected: it never reached the service) is not charged
// to the method's allowance: what it took is given back, and attempt 1 goes on to win.
func TestRefusedHedgeIsNotCharged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		clk := clocktest.New(time.Now())
		p, err := New(Config{MaxAttempts: 2, Delay: d, Idempotent: true}, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		allowance := p.method(compare).hedges
		release1 := make(chan struct{})
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
				return &codes.Rejection{
					Err: errors.New("throttled"), Code: grpccodes.Unavailable, Reason: "ADAPTIVE_THROTTLE",
					Policy: observe.PolicyAdaptiveThrottle, Service: "kyc.v1.FaceMatchService",
				}
			}
			<-release1
			return nil
		}
		done := startCompare(context.Background(), p, invoker)
		synctest.Wait() // attempt 1 waits; the call's deposit is made
		before := allowance.milli.Load()
		clk.Advance(d) // the hedge goes, paid from the allowance, and is refused below
		synctest.Wait()
		close(release1)
		if err := <-done; err != nil {
			t.Fatalf("the call ended with %v, want attempt 1's answer", err)
		}
		if got := allowance.milli.Load(); got != before {
			t.Errorf("allowance %d -> %d milli-hedges, want the refused hedge given back (%d)", before, got, before)
		}
	})
}
