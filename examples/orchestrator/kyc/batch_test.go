package kyc_test

import (
	"context"
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

// TestArrivalOffsetSaturates: at a slow enough rate, arrival i's offset overflowed
// time.Duration into a negative one, and every arrival of the batch started at once (a -rate of
// 1e-300 shed nine of ten arrivals "past the in-flight bound" and reported 9e300 s lost).
func TestArrivalOffsetSaturates(t *testing.T) {
	for _, tt := range []struct {
		i        int
		interval float64
		want     time.Duration
	}{
		{0, math.Inf(1), 0}, // a rate below 1e-300: the first arrival is still at once
		{1, float64(time.Second) / 50, 20 * time.Millisecond},
		{999_999, float64(time.Second) / kyc.MinRate, 999_999 * 1000 * time.Second},
		{1, 1e300, math.MaxInt64},
		{2, math.MaxInt64, math.MaxInt64},
	} {
		if got := kyc.ArrivalOffset(tt.i, tt.interval); got != tt.want {
			t.Errorf("arrivalOffset(%d, %g) = %v, want %v", tt.i, tt.interval, got, tt.want)
		}
	}
}

// TestNegativeBatchIsEmpty: a Batch is a plain struct a caller fills in, and RunResult has no
// error to return; a negative N panicked in Cases (make with a negative length). It is an
// empty batch, as documented on N.
func TestNegativeBatchIsEmpty(t *testing.T) {
	for _, b := range []kyc.Batch{{N: -1}, {N: -1, Rate: 10}, {N: math.MinInt}} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Batch{N: %d, Rate: %v}: panic %v", b.N, b.Rate, p)
				}
			}()
			if c := b.Cases(); len(c) != 0 {
				t.Errorf("Batch{N: %d}.Cases() = %v, want none", b.N, c)
			}
			res := b.RunResult(context.Background(), nil)
			if len(res.Responses) != 0 || len(res.Arrivals) != 0 || res.Interrupted {
				t.Errorf("Batch{N: %d, Rate: %v}.RunResult = %+v, want an empty batch", b.N, b.Rate, res)
			}
		}()
	}
}
