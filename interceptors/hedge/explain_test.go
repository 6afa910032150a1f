package hedge_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
)

// TestExplainNamesThePercentileAsWritten: Explain writes the percentile as the configuration
// does. It wrote the float64 product Percentile×100, which for many percentiles is a hair off
// the whole number (0.55×100 = 55.00000000000001, 0.57×100 = 56.99999999999999).
func TestExplainNamesThePercentileAsWritten(t *testing.T) {
	for pct, want := range map[float64]string{0.55: "p55 ", 0.57: "p57 ", 0.95: "p95 ", 0.999: "p99.9 ", 0.9995: "p99.95 "} {
		got := hedge.Normalize(hedge.Config{Percentile: pct}).Explain()
		if !strings.Contains(got, want) {
			t.Errorf("percentile %v: Explain() = %q, want it to name %q", pct, got, strings.TrimSpace(want))
		}
	}
}
