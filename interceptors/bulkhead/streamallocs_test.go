package bulkhead_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestStreamAllocs pins what a bulkhead adds to a stream, over what watching its end costs: a
// fixed limit registers the bulkhead itself for the end, with no allocation (it took one, a
// closure, before); an adaptive one registers one small value carrying the stream's sample.
func TestStreamAllocs(t *testing.T) {
	base, baseBytes := testkit.StreamAllocs(t, testkit.WatchOnly, testkit.MethodCheck)
	for _, tt := range []struct {
		name     string
		adaptive bulkhead.Adaptive
		want     float64 // the most allocations the bulkhead may add to a stream
		// wantBytes is the most bytes it may add: the adaptive limit's value for the end
		// is 64 (80 when it held the stream's start as a time.Time).
		wantBytes float64
	}{
		{"fixed", bulkhead.Adaptive{}, 0, 0},
		{"aimd", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 4}, 1, 64},
		{"gradient", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, InitialLimit: 4}, 1, 64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1700000000, 0))
			bh, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 4, Adaptive: tt.adaptive}, bulkhead.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			got, gotBytes := testkit.StreamAllocs(t, bh.Stream(), testkit.MethodCheck)
			got, gotBytes = got-base, gotBytes-baseBytes
			t.Logf("%.1f allocations, %.1f bytes over watching the end", got, gotBytes)
			if got > tt.want {
				t.Errorf("a stream through the bulkhead costs %.0f allocations over watching its end (%.0f), want at most %.0f", got, base, tt.want)
			}
			if gotBytes > tt.wantBytes {
				t.Errorf("a stream through the bulkhead costs %.0f bytes over watching its end (%.0f), want at most %.0f", gotBytes, baseBytes, tt.wantBytes)
			}
			if n := bh.InFlight(); n != 0 {
				t.Errorf("InFlight = %d after every stream ended, want 0", n)
			}
		})
	}
}
