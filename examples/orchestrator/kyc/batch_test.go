package kyc_test

import (
	"math"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// TestDefaultInFlightLimit: rate × budget × 1.25, rounded up, at least 1, and capped for a
// rate whose product does not fit an int (before the cap, 1e300 per second gave a bound of 1).
func TestDefaultInFlightLimit(t *testing.T) {
	for _, tt := range []struct {
		rate float64
		want int
	}{
		{0, 1}, {0.01, 1}, {0.1, 1}, {0.11, 2}, {100, 1000}, {1e8, 1_000_000_000}, {1e9, kyc.MaxInFlightLimit}, {1e300, kyc.MaxInFlightLimit},
		{math.MaxFloat64, kyc.MaxInFlightLimit},
	} {
		if got := kyc.DefaultInFlightLimit(tt.rate, 8*time.Second); got != tt.want {
			t.Errorf("DefaultInFlightLimit(%v, 8s) = %d, want %d", tt.rate, got, tt.want)
		}
	}
}
