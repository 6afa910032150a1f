package throttle

import (
	"strings"
	"testing"
)

// Each Config rule is refused naming the yaml field, the value and the rule; the bounds
// themselves are accepted.
func TestValidateNamesFieldValueAndRule(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; nil: valid
	}{
		{name: "min_requests negative", cfg: Config{MinRequests: -1}, want: []string{"min_requests", "-1", "is negative"}},
		{name: "min_requests zero", cfg: Config{MinRequests: 0}},
		{name: "max_reject_probability above 1", cfg: Config{MaxRejectProbability: 1.5}, want: []string{"max_reject_probability", "1.5", "(0, 1]"}},
		{name: "max_reject_probability negative", cfg: Config{MaxRejectProbability: -0.1}, want: []string{"max_reject_probability", "-0.1", "(0, 1]"}},
		{name: "max_reject_probability 1", cfg: Config{MaxRejectProbability: 1}},
		{name: "k below 1", cfg: Config{K: 0.99}, want: []string{"k", "0.99"}},
		{name: "k 1", cfg: Config{K: 1}, want: []string{"k: 1 is not above 1", "hold it near its cap long after the service recovers"}},
		{name: "k just above 1", cfg: Config{K: 1.01}},
		{name: "k 100", cfg: Config{K: 100}},
		{name: "k above 100", cfg: Config{K: 100.5}, want: []string{"k", "100.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
