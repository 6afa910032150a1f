package throttle_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
)

// TestExplainNamesTheCapAsWritten: Explain writes MaxRejectProbability as a percentage the way
// the configuration writes it. It wrote the float64 product MaxRejectProbability×100, a hair
// off the whole number for many caps (0.07×100 = 7.000000000000001, 0.57×100 =
// 56.99999999999999).
func TestExplainNamesTheCapAsWritten(t *testing.T) {
	for p, want := range map[float64]string{0.07: "at most 7%", 0.29: "at most 29%", 0.57: "at most 57%", 0.9: "at most 90%", 0.995: "at most 99.5%"} {
		got := throttle.Normalize(throttle.Config{MaxRejectProbability: p}).Explain()
		if !strings.HasSuffix(got, want) {
			t.Errorf("max_reject_probability %v: Explain() = %q, want it to end %q", p, got, want)
		}
	}
}
