package breaker

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// TestExplainOfAFixedOpenInterval: with recovery_multiplier 1 a failed probe does not lengthen
// the open interval, which stays initial_recovery_timeout for good (recovery_timeout is never
// reached). Explain said "half-opens after 1s (x1 after each failed probe, up to 30s)", as if
// the interval grew to 30s.
func TestExplainOfAFixedOpenInterval(t *testing.T) {
	got := Normalize(Config{InitialRecoveryTimeout: time.Second, RecoveryMultiplier: 1, RecoveryTimeout: 30 * time.Second}).Explain()
	if !strings.Contains(got, "half-opens after 1s with") || strings.Contains(got, "x1") || strings.Contains(got, "30s") {
		t.Fatalf("Explain() = %q, want \"half-opens after 1s with ...\", without a growth clause or 30s", got)
	}
	// The growing interval keeps its clause.
	got = Normalize(Config{InitialRecoveryTimeout: time.Second, RecoveryMultiplier: 1.5, RecoveryTimeout: 30 * time.Second}).Explain()
	if !strings.Contains(got, "half-opens after 1s (x1.5 after each failed probe, up to 30s)") {
		t.Fatalf("Explain() = %q, want the x1.5 growth clause", got)
	}
}

// TestExplainPercentages: the rates are fractions, and a fraction times 100 in floating point
// is not always the percentage it reads as. Explain wrote failure_rate_threshold 0.07 as
// "7.000000000000001% failures" and slow_call_rate_threshold 0.29 as "28.999999999999996%".
func TestExplainPercentages(t *testing.T) {
	got := Normalize(Config{FailureRateThreshold: 0.07, SlowCallDuration: time.Second, SlowCallRateThreshold: 0.29}).Explain()
	for _, want := range []string{"7% failures over", "29% calls slower than 1s"} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain() = %q, want it to contain %q", got, want)
		}
	}
	got = Normalize(Config{FailureRateThreshold: 0.57, FailureRateConfidence: 0.999, WindowSize: 100, MinimumCalls: 20}).Explain()
	if !strings.Contains(got, "57% failures over the last 100 calls with 99.9% confidence") {
		t.Errorf("Explain() = %q, want \"57%% failures over the last 100 calls with 99.9%% confidence\"", got)
	}
}

// TestExplainSlowCallMinimum: the slow-call rule is judged only once the window holds
// minimum_calls outcomes, as the failure-rate rule is, but Explain said so of the failure rate
// alone: "100% calls slower than 1s over the last 10s" read as if one slow call among none
// other tripped it, where ten outcomes are needed.
func TestExplainSlowCallMinimum(t *testing.T) {
	cfg := Normalize(Config{WindowType: WindowTime, SlowCallDuration: time.Second})
	got := cfg.Explain()
	if want := "100% calls slower than 1s over the last 10s (from 10 calls)"; !strings.Contains(got, want) {
		t.Fatalf("Explain() = %q, want it to contain %q", got, want)
	}
	// As Explain says: nine slow calls do not trip it, the tenth does.
	clk := clocktest.New(time.Unix(0, 0))
	b, err := New("svc", cfg, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	var ps []Permit
	for range 10 {
		p, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	clk.Advance(2 * time.Second)
	for i, p := range ps {
		p.Done(nil)
		if want := map[bool]State{false: Closed, true: Open}[i == 9]; b.State() != want {
			t.Fatalf("after %d slow calls the state is %v, want %v", i+1, b.State(), want)
		}
	}
}
