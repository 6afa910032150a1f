package main

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/benchmarks/internal/orchrun"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sent returns a summary whose services saw reached attempts per call.
func sent(decided float64, opens int, perCall float64) orchrun.Summary {
	return orchrun.Summary{DecidedPct: decided, BreakerOpens: opens, Max: 5000,
		Services: map[string]orchrun.Service{"s": {Calls: 1000, Reached: int(perCall * 1000)}}}
}

// TestGoals checks issue 15's goals as the table judges them.
func TestGoals(t *testing.T) {
	slow := sent(99.9, 0, 1.1)
	slow.Max = 8100
	tests := []struct {
		name    string
		f       float64
		on, off orchrun.Summary
		want    bool
	}{
		{"0.1 decided", 0.1, sent(99.7, 0, 1.1), sent(78, 0, 1), true},
		{"0.1 too few", 0.1, sent(99.6, 0, 1.1), sent(78, 0, 1), false},
		{"0.1 too slow", 0.1, slow, sent(78, 0, 1), false},
		{"0.2 a breaker opened", 0.2, sent(99, 1, 1.2), sent(56, 0, 1), false},
		{"0.3 decided", 0.3, sent(94.5, 0, 1.4), sent(42, 0, 1), true},
		{"0.5 below every policy off", 0.5, sent(16, 0, 1.4), sent(17, 0, 1), false},
		{"0.5 too much load", 0.5, sent(40, 0, 2.1), sent(17, 0, 1), false},
		{"0.5 met", 0.5, sent(40, 0, 1.4), sent(17, 0, 1), true},
		{"1 no breaker", 1, sent(0, 0, 0.05), sent(0, 0, 1), false},
		{"1 met", 1, sent(0, 6, 0.05), sent(0, 0, 1), true},
		{"1 too much load", 1, sent(0, 6, 1.2), sent(0, 0, 1), false},
		{"outage met", outageF, orchrun.Summary{ArrivalsLostS: 7}, orchrun.Summary{}, true},
		{"outage missed", outageF, orchrun.Summary{ArrivalsLostS: 7.1}, orchrun.Summary{}, false},
	}
	for _, tc := range tests {
		g, ok := goalAt(tc.f)
		if !ok {
			t.Fatalf("%s: no goal at %g", tc.name, tc.f)
		}
		if got := g.holds(tc.on, tc.off); got != tc.want {
			t.Errorf("%s (%s): %v, want %v", tc.name, g.text, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lost float64
		want bool
	}{{17, true}, {17.1, false}} {
		g := longOutageGoal(15 * time.Second)
		if got := g.holds(orchrun.Summary{ArrivalsLostS: tc.lost}, orchrun.Summary{}); got != tc.want || g.text != "≤ 17 s of arrivals lost" {
			t.Errorf("15s outage, %.1f s lost (%s): %v, want %v", tc.lost, g.text, got, tc.want)
		}
	}
	if _, ok := goalAt(0); ok {
		t.Error("a goal at F = 0; issue 15 sets none")
	}
}
