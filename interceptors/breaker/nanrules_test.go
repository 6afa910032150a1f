package breaker

import (
	"math"
	"testing"
	"time"
)

// A rate or confidence that is not a number (a Go caller's math.NaN; YAML's .nan is refused as
// it is read) breaks one rule, its range, as any other value out of range does: it is not
// also below 0.5, a threshold the confidence could never reach, or a slow-call rate set
// without slow_call_duration.
func TestValidateNaNBreaksOneRule(t *testing.T) {
	nan := math.NaN()
	for _, tt := range []struct {
		name string
		c    Config
		want string
	}{
		{"failure_rate_threshold", Config{FailureRateThreshold: nan, FailureRateConfidence: 0.999, WindowSize: 100},
			"failure_rate_threshold: NaN is outside [0, 1]"},
		{"failure_rate_confidence", Config{FailureRateThreshold: 0.5, FailureRateConfidence: nan},
			"failure_rate_confidence: NaN is outside [0, 1)"},
		{"slow_call_rate_threshold", Config{SlowCallRateThreshold: nan},
			"slow_call_rate_threshold: NaN is outside [0, 1]"},
		{"slow_call_rate_threshold with a duration", Config{SlowCallRateThreshold: nan, SlowCallDuration: time.Second},
			"slow_call_rate_threshold: NaN is outside [0, 1]"},
	} {
		if err := tt.c.Validate(); err == nil || err.Error() != tt.want {
			t.Errorf("%s: Validate = %v, want the one rule it breaks: %q", tt.name, err, tt.want)
		}
	}
}
