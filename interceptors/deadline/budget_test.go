package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
)

// In a suite the call budget (8s) caps the section: a default is applied only to calls
// without a deadline, a caller's longer deadline is brought in to the cap, and what the
// budget set rather than the section is told apart by its reason.
func TestSuiteStepAndTheBudget(t *testing.T) {
	const budget = 8 * time.Second
	for _, tt := range []struct {
		name       string
		cfg        deadline.Config
		callerIn   time.Duration // 0: no deadline
		want       time.Duration // remaining; 0: the caller's deadline is kept
		wantReason string
	}{
		{"no section values: the budget caps a call without a deadline", deadline.Config{}, 0, budget, observe.ReasonBudget},
		{"no section values: the budget caps a longer deadline", deadline.Config{}, time.Minute, budget, observe.ReasonBudget},
		{"a shorter deadline is kept", deadline.Config{}, time.Second, 0, ""},
		{"default within the budget", deadline.Config{Default: 2 * time.Second}, 0, 2 * time.Second, observe.ReasonDefault},
		{"default not applied to a caller's deadline", deadline.Config{Default: 2 * time.Second}, 5 * time.Second, 0, ""},
		{"default beyond the budget is the budget's", deadline.Config{Default: 10 * time.Second}, 0, budget, observe.ReasonBudget},
		{"max within the budget caps", deadline.Config{Max: 3 * time.Second}, time.Minute, 3 * time.Second, observe.ReasonCap},
		{"max beyond the budget is the budget's", deadline.Config{Max: time.Minute}, time.Hour, budget, observe.ReasonBudget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, clk, rec := buildUnderBudget(t, tt.cfg, budget)
			ctx := context.Background()
			if tt.callerIn > 0 {
				var cancel context.CancelFunc
				ctx, cancel = clock.WithTimeout(ctx, clk, tt.callerIn)
				defer cancel()
			}
			d, set := p.Deadline(ctx, testkit.MethodCompare)
			if set != (tt.want > 0) || (set && d.Sub(clk.Now()) != tt.want) {
				t.Fatalf("Deadline = %v remaining, set %v; want %v", d.Sub(clk.Now()), set, tt.want)
			}
			evs := rec.Events(observe.DeadlineApplied)
			if !set {
				if len(evs) != 0 {
					t.Fatalf("events %+v, want none", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].Reason != tt.wantReason || evs[0].Delay != tt.want {
				t.Fatalf("events %+v, want one %s with delay %v", evs, tt.wantReason, tt.want)
			}
		})
	}
}

// buildUnderBudget builds the deadline section of cfg for FaceMatchService's Compare under a
// call budget of budget, as a suite does, on a fake clock and with a recorder as its sink.
func buildUnderBudget(t *testing.T, cfg deadline.Config, budget time.Duration) (*deadline.Policy, *clocktest.Fake, *testkit.Recorder) {
	t.Helper()
	sec, ok := section.Lookup("deadline")
	if !ok {
		t.Fatal("deadline section not registered")
	}
	clk := clocktest.New(time.Time{})
	rec := &testkit.Recorder{}
	b, err := sec.Build(&section.Env{Service: "kyc.v1.FaceMatchService", FullMethod: testkit.MethodCompare,
		Budget: budget, Clock: clk, Sink: rec}, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b.Object.(*deadline.Policy), clk, rec
}
