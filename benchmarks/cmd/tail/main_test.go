package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestVerdict checks issue 16's goal as the table judges it: the p99 bound steps from 150 to
// 300 ms past 5 % spikes, the attempts per call grow with the rate, a slowdown has only the
// attempts bound, and a row is met only when its worst seeds meet it.
func TestVerdict(t *testing.T) {
	tests := []struct {
		name     string
		rate     float64
		slow     bool
		p99, apc stats
		want     string
	}{
		{"5 % within", 0.05, false, stats{90, 149}, stats{1.05, 1.095}, "met"},
		{"5 % worst seed's p99 over", 0.05, false, stats{90, 151}, stats{1.05, 1.05}, "met by the median, not the worst seed"},
		{"5 % worst seed's attempts over", 0.05, false, stats{90, 120}, stats{1.05, 1.096}, "met by the median, not the worst seed"},
		{"5 % median over", 0.05, false, stats{160, 170}, stats{1.05, 1.05}, "**missed**"},
		{"8 % has 300 ms", 0.08, false, stats{200, 290}, stats{1.10, 1.14}, "met"},
		{"8 % attempts over", 0.08, false, stats{120, 120}, stats{1.15, 1.15}, "**missed**"},
		{"0 % attempts", 0, false, stats{30, 40}, stats{1.02, 1.021}, "met by the median, not the worst seed"},
		{"slowdown ignores the p99", 0, true, stats{500, 900}, stats{1.01, 1.05}, "met"},
		{"slowdown attempts over", 0, true, stats{100, 100}, stats{1.06, 1.07}, "**missed**"},
	}
	for _, tc := range tests {
		if got := goalAt(tc.rate, tc.slow).verdict(tc.p99, tc.apc); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := goalAt(0.05, false).String(); got != "≤ 150 ms, ≤ 1.095" {
		t.Errorf("goal at 5 %%: %q", got)
	}
	if got := goalAt(0, true).String(); got != "≤ 1.05" {
		t.Errorf("slowdown goal: %q", got)
	}
}
