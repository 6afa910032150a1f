package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
)

// TestREADMEBuiltinFigures: the figures the README's Configuration section quotes by hand for
// the built-in profiles (retry budget, breaker, hedging, adaptive throttle, adaptive bulkhead)
// are the built-ins'. Each phrase must still be in the README, word for word, and hold: a
// change to builtin.yaml that makes one wrong, or a rewording that drops it, fails here.
func TestREADMEBuiltinFigures(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The README wraps lines: compare with every run of spaces and newlines as one space.
	text := strings.Join(strings.Fields(string(readme)), " ")
	b := config.Builtin()
	ml, fast, ocr := b.Profiles["ml"], b.Profiles["fast"], b.Profiles["ocr"]
	for _, p := range []config.Profile{ml, fast, ocr} {
		if p.Retry == nil || p.Retry.Throttle.Ratio == 0 || p.Breaker == nil || p.Bulkhead == nil {
			t.Fatalf("a built-in profile has no retry budget, breaker or bulkhead: %+v", p)
		}
	}
	for _, c := range []struct {
		phrase string
		holds  bool
	}{
		{"retries under a ratio budget (at most 1.6 attempts per call, plus a floor, whatever the failure rate)",
			1+ml.Retry.Throttle.Ratio == 1.6 && 1+ocr.Retry.Throttle.Ratio == 1.6 && 1+fast.Retry.Throttle.Ratio <= 1.6},
		{"breakers that trip on 20 failures in a row or a failure rate significantly over 50 %",
			ml.Breaker.ConsecutiveFailures == 20 && fast.Breaker.ConsecutiveFailures == 20 && ocr.Breaker.ConsecutiveFailures == 20 &&
				ml.Breaker.FailureRateThreshold == 0.5 && fast.Breaker.FailureRateThreshold == 0.5 && ocr.Breaker.FailureRateThreshold == 0.5},
		{"probe 0.75 s after a trip (`fast`: 0.5 s), then every second, so that an outage closes them within 1 s of its end",
			ml.Breaker.InitialRecoveryTimeout == 750*time.Millisecond && ocr.Breaker.InitialRecoveryTimeout == 750*time.Millisecond &&
				fast.Breaker.InitialRecoveryTimeout == 500*time.Millisecond &&
				ml.Breaker.RecoveryTimeout == time.Second && fast.Breaker.RecoveryTimeout == time.Second && ocr.Breaker.RecoveryTimeout == time.Second},
		{"`ml` and `ocr` also hedge (up to 3 attempts, after the lower of the p99 latency and twice the median",
			ml.Hedge != nil && ocr.Hedge != nil && fast.Hedge == nil &&
				ml.Hedge.MaxAttempts == 3 && ocr.Hedge.MaxAttempts == 3 &&
				ml.Hedge.Percentile == 0.99 && ocr.Hedge.Percentile == 0.99 &&
				ml.Hedge.MedianMultiple == 2 && ocr.Hedge.MedianMultiple == 2},
		{"throttle adaptively (K = 2)",
			ml.AdaptiveThrottle != nil && ocr.AdaptiveThrottle != nil && fast.AdaptiveThrottle == nil &&
				ml.AdaptiveThrottle.K == 2 && ocr.AdaptiveThrottle.K == 2},
		{"their per-attempt timeout is 5 s, for requests that never answer (`fast`, which does not hedge, cuts at 300 ms)",
			ml.Retry.PerAttemptTimeout == 5*time.Second && ocr.Retry.PerAttemptTimeout == 5*time.Second && fast.Retry.PerAttemptTimeout == 300*time.Millisecond},
		{"their bulkhead limits are adaptive (gradient, 8..64)",
			ml.Bulkhead.Adaptive.Algorithm == bulkhead.AlgorithmGradient && ml.Bulkhead.Adaptive.MinLimit == 8 && ml.Bulkhead.MaxConcurrent == 64 &&
				ocr.Bulkhead.Adaptive.Algorithm == bulkhead.AlgorithmGradient && ocr.Bulkhead.Adaptive.MinLimit == 8 && ocr.Bulkhead.MaxConcurrent == 64 &&
				fast.Bulkhead.Adaptive.Algorithm == bulkhead.AlgorithmNone},
		{"`ocr` makes 4 attempts where the reference made 3", ocr.Retry.MaxAttempts == 4},
	} {
		if !strings.Contains(text, c.phrase) {
			t.Errorf("README.md no longer says %q: update this test with its new words", c.phrase)
			continue
		}
		if !c.holds {
			t.Errorf("README.md says %q, which the built-in profiles (config/builtin.yaml) no longer hold", c.phrase)
		}
	}
}
