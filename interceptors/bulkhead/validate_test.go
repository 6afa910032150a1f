package bulkhead

import (
	"strings"
	"testing"
)

// TestValidateIgnoresGradientFieldsUnderAIMD: smoothing, tolerance and long_window are read
// by the gradient alone (Normalize leaves them unset for aimd, and a reload ignores them), yet
// Validate judged them under aimd too: a config with algorithm aimd was refused for
// "adaptive.long_window: 5 is below 10", a field it does not use. The gradient still judges them.
func TestValidateIgnoresGradientFieldsUnderAIMD(t *testing.T) {
	a := Adaptive{Smoothing: 1.5, Tolerance: 0.5, LongWindow: 5}
	aimd, gradient := a, a
	aimd.Algorithm, gradient.Algorithm = AlgorithmAIMD, AlgorithmGradient
	if err := (Config{MaxConcurrent: 8, Adaptive: aimd}).Validate(); err != nil {
		t.Fatalf("aimd: Validate() = %v, want nil: smoothing, tolerance and long_window are the gradient's", err)
	}
	err := (Config{MaxConcurrent: 8, Adaptive: gradient}).Validate()
	for _, field := range []string{"adaptive.smoothing", "adaptive.tolerance", "adaptive.long_window"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("gradient: Validate() = %v, want %s refused", err, field)
		}
	}
}

// TestValidateAdaptiveLimits: each rule on the adaptive limits is refused with an error that
// names the field, the value and the rule.
func TestValidateAdaptiveLimits(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "": valid
	}{
		{name: "initial between floor and ceiling", cfg: Config{MaxConcurrent: 10, Adaptive: Adaptive{Algorithm: AlgorithmAIMD, MinLimit: 2, InitialLimit: 5}}},
		{name: "initial at the floor", cfg: Config{MaxConcurrent: 10, Adaptive: Adaptive{Algorithm: AlgorithmAIMD, MinLimit: 5, InitialLimit: 5}}},
		{name: "initial below the floor", cfg: Config{MaxConcurrent: 10, Adaptive: Adaptive{Algorithm: AlgorithmAIMD, MinLimit: 5, InitialLimit: 2}},
			wantErr: "adaptive.initial_limit: 2 is below adaptive.min_limit (5)"},
		{name: "initial above the ceiling", cfg: Config{MaxConcurrent: 10, Adaptive: Adaptive{Algorithm: AlgorithmGradient, InitialLimit: 11}},
			wantErr: "adaptive.initial_limit: 11 is above max_concurrent (10)"},
		{name: "floor above the default ceiling", cfg: Config{Adaptive: Adaptive{Algorithm: AlgorithmAIMD, MinLimit: 11}},
			wantErr: "adaptive.min_limit: 11 is above max_concurrent (10)"},
		{name: "backoff ratio below one half", cfg: Config{MaxConcurrent: 10, Adaptive: Adaptive{Algorithm: AlgorithmAIMD, BackoffRatio: 0.4}},
			wantErr: "adaptive.backoff_ratio: 0.4 is outside [0.5, 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
