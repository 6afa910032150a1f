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
