package config_test

import (
	"strings"
	"testing"
)

// TestOverrideSetErrorAtWrittenField: the rules between two fields that are not a bound ("is
// set with", "is set but ... is not") were left at the field an override did not write, with
// the profile's value: a service writing retry.throttle.max_tokens: 10 over ocr's ratio budget
// read `services."kyc.v1.OCRService".retry.throttle.ratio: 0.6 is set with
// throttle.max_tokens`, and one writing retry.jitter: full read `retry.jitter_amount: 1s is
// set but jitter is not additive`, fields the service does not have. As for the bounds
// (TestOverrideErrorAtWrittenField), such an error is reported at the field written, with the
// other field's value named.
func TestOverrideSetErrorAtWrittenField(t *testing.T) {
	for src, want := range map[string]string{
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle:\n        max_tokens: 10\n":        `t.yaml:5: services."kyc.v1.OCRService".retry.throttle.max_tokens: 10 is set with throttle.ratio (0.6): choose the ratio budget or the token bucket`,
		"services:\n  kyc.v1.OCRService:\n    retry:\n      jitter: full\n":                             `t.yaml:4: services."kyc.v1.OCRService".retry.jitter: "full" is not additive, but jitter_amount (1s) is set`,
		"services:\n  kyc.v1.OCRService:\n    breaker:\n      failure_rate_threshold: 0\n":              `t.yaml:4: services."kyc.v1.OCRService".breaker.failure_rate_threshold: 0 is not set, but failure_rate_confidence (0.999) is set`,
		"services:\n  kyc.v1.OCRService:\n    breaker:\n      failure_rate_threshold: 1\n":              `t.yaml:4: services."kyc.v1.OCRService".breaker.failure_rate_threshold: 1 is set with failure_rate_confidence (0.999), which a lower confidence bound never reaches`,
		"services:\n  kyc.v1.OCRService:\n    breaker:\n      minimum_calls: 5\n      window_size: 5\n": `t.yaml:5: services."kyc.v1.OCRService".breaker.window_size: 5 is set with failure_rate_confidence (0.999), so even 5 failures of 5 would never trip failure_rate_threshold 0.5`,
		// The end written is still the one reported, as written.
		"services:\n  kyc.v1.OCRService:\n    retry:\n      jitter_amount: 2s\n      jitter: full\n": `t.yaml:4: services."kyc.v1.OCRService".retry.jitter_amount: 2s is set but jitter is not additive`,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}
}
