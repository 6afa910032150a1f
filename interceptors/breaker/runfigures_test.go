package breaker

import (
	"math"
	"testing"
)

// TestRunFiguresOfTheDoc pins the figures the package documentation ("Brownout or outage")
// gives for runs of failures alone, from the breaker's own consecutive-failure rule through
// falseTrips: a run of L = 5 at F = 0.2 comes once in about 4 000 outcomes, about 90 times an
// hour at 100 outcomes/s (the table's 380 for the reference's rules adds their failure-rate
// rule, 10 of the last 20), and a run of 20 about 3e-9 times an hour (9e-6 at F = 0.3).
func TestRunFiguresOfTheDoc(t *testing.T) {
	runs := func(l int) *Breaker {
		b, err := New("svc", Config{ConsecutiveFailures: l})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	within := func(got, want, rel float64) bool { return math.Abs(got-want) <= rel*want }

	five := falseTrips(runs(5), 0.2)
	if every := 1 / five.perOutcome; !within(every, 4000, 0.05) {
		t.Errorf("L = 5, F = 0.2: a run every %.0f outcomes, want about 4 000", every)
	}
	if got := five.perHour(100); !within(got, 90, 0.05) {
		t.Errorf("L = 5, F = 0.2: %.1f runs an hour at 100 outcomes/s, want about 90", got)
	}
	if got := falseTrips(runs(20), 0.2).perHour(100); !within(got, 3e-9, 0.05) {
		t.Errorf("L = 20, F = 0.2: %.3g runs an hour, want about 3e-9", got)
	}
	if got := falseTrips(runs(20), 0.3).perHour(100); !within(got, 9e-6, 0.05) {
		t.Errorf("L = 20, F = 0.3: %.3g runs an hour, want about 9e-6", got)
	}
	// The reference's two rules together are the table's row: about 380 an hour.
	ref, err := New("svc", Config{ConsecutiveFailures: 5, FailureRateThreshold: 0.5, WindowSize: 20, MinimumCalls: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := falseTrips(ref, 0.2).perHour(100); !within(got, 380, 0.05) {
		t.Errorf("the reference's rules, F = 0.2: %.1f trips an hour, want about 380", got)
	}
}
