package breaker

import (
	"strings"
	"testing"
	"time"
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
