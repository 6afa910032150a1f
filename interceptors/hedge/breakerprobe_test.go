package hedge

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A hedged call through a half-open breaker takes a probe slot per attempt; the attempt
// canceled because the other won gives its slot back, counted neither way: after the call
// both slots are free again, and the winner's success alone has counted.
func TestLoserGivesBackItsBreakerProbe(t *testing.T) {
	const d = 10 * time.Millisecond
	p, clk := hedged(t, Config{MaxAttempts: 2, Delay: d})
	br, err := breaker.New("kyc.v1.FaceMatchService", breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Second,
		HalfOpenMaxCalls: 2, SuccessThreshold: 2}, breaker.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	permit, err := br.Allow()
	if err != nil {
		t.Fatal(err)
	}
	permit.Done(status.Error(grpccodes.Unavailable, "down"))
	clk.Advance(time.Second)
	if s := br.State(); s != breaker.HalfOpen {
		t.Fatalf("breaker %v, want half_open", s)
	}
	done := hedgedBelow(p, clk, d, br.Unary(), func() error { return nil })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := br.State(); s != breaker.HalfOpen {
		t.Fatalf("breaker %v after one successful probe of two, want half_open", s)
	}
	// Both probe slots are free: the loser gave its slot back.
	p1, err := br.Allow()
	if err != nil {
		t.Fatalf("first probe after the call: %v", err)
	}
	p2, err := br.Allow()
	if err != nil {
		t.Fatalf("second probe after the call: %v (the canceled attempt kept its slot)", err)
	}
	p1.Done(nil) // the second success of the half-open period: the breaker closes
	p2.Done(nil)
	if s := br.State(); s != breaker.Closed {
		t.Fatalf("breaker %v, want closed after two successful probes", s)
	}
}
