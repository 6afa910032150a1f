package stub

import (
	"testing"

	grpccodes "google.golang.org/grpc/codes"
)

// TestRatesAddingUpToOneValidate: rates written to add up to 1 are valid even when their
// running sum, rounded at each addition, comes out just over 1 (0.34 + 0.56 + 0.1 is
// 1 + 2⁻⁵²).
func TestRatesAddingUpToOneValidate(t *testing.T) {
	f := Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unknown: 0.34, grpccodes.DeadlineExceeded: 0.56, grpccodes.Unavailable: 0.1}}
	if sum := failSum(f.Fail); !(sum > 1) {
		t.Fatalf("the rates' running sum is %v, not over 1: the test does not test the slack", sum)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("Validate of rates adding up to 1: %v, want nil", err)
	}
}
