package ratelimit_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// valueClock is a clock.Clock passed by value whose type == cannot compare (it holds a func):
// nothing in clock.Clock's contract asks for ==.
type valueClock struct {
	*clocktest.Fake
	label func() string
}

// TestClockOfAnUncomparableType: New given a Local and a clock of a type == cannot compare
// builds its policy (it compared the two clocks with ==, which panicked), and the policy
// limits as the Local does.
func TestClockOfAnUncomparableType(t *testing.T) {
	clk := valueClock{Fake: clocktest.New(time.Now()), label: func() string { return "test" }}
	loc := ratelimit.NewLocal(1, 1, ratelimit.WithClock(clk))
	var p *ratelimit.Policy
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("New panicked: %v", r)
			}
		}()
		var err error
		if p, err = ratelimit.New(svc, loc, ratelimit.Config{}, ratelimit.WithClock(clk)); err != nil {
			t.Fatal(err)
		}
	}()
	if err := p.Allow(t.Context()); err != nil {
		t.Fatalf("first take: %v", err)
	}
	if err := p.Allow(t.Context()); err == nil {
		t.Fatal("second take within the burst of 1 admitted")
	}
}
