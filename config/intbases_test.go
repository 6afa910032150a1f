package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestWholeNumbersInOtherBases: a whole number YAML reads in another base (0x14, 0o24,
// 0b10100) is that number, as it is in a float field, not a silent 0: breaker.consecutive_failures
// and adaptive_throttle.min_requests, where a written 0 is accepted, were switched off, and
// retry.max_attempts was refused as "0x3 is below 1".
func TestWholeNumbersInOtherBases(t *testing.T) {
	for _, lit := range []string{"0x14", "0o24", "0b10100"} {
		t.Run(lit, func(t *testing.T) {
			data := "profiles:\n  p:\n" +
				"    retry: {max_attempts: " + lit + "}\n" +
				"    breaker: {consecutive_failures: " + lit + ", failure_rate_threshold: 0.5}\n" +
				"    adaptive_throttle: {min_requests: " + lit + "}\n" +
				"services:\n  a.v1.S: {profile: p}\n"
			cfg, _, err := config.Parse("bases.yaml", []byte(data))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			p := cfg.Resolve("/a.v1.S/M")
			if got := p.Retry.MaxAttempts; got != 20 {
				t.Errorf("retry.max_attempts %s = %d, want 20", lit, got)
			}
			if got := p.Breaker.ConsecutiveFailures; got != 20 {
				t.Errorf("breaker.consecutive_failures %s = %d, want 20", lit, got)
			}
			if got := p.AdaptiveThrottle.MinRequests; got != 20 {
				t.Errorf("adaptive_throttle.min_requests %s = %d, want 20", lit, got)
			}
		})
	}
}

// TestWholeNumberTaggedStringIsNotOutOfRange: a value tagged !!str in a whole-number field is
// refused as not a whole number, not as out of range.
func TestWholeNumberTaggedStringIsNotOutOfRange(t *testing.T) {
	_, _, err := config.Parse("str.yaml", []byte("profiles:\n  p:\n    retry: {max_attempts: !!str 3}\n"))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse = %v, want a *config.Error", err)
	}
	if !strings.HasSuffix(ce.Error(), "is not a whole number") {
		t.Fatalf("error %q, want the value refused as not a whole number", ce)
	}
}

// TestWholeNumberInOtherBaseQuotedAsWritten: an error names a number written in another base
// as the file writes it, so that it can be found there: -0x14, not -20.
func TestWholeNumberInOtherBaseQuotedAsWritten(t *testing.T) {
	_, _, err := config.Parse("neg.yaml", []byte("profiles:\n  p:\n    retry: {max_attempts: -0x14}\n"))
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Path != "profiles.p.retry.max_attempts" {
		t.Fatalf("Parse = %v, want max_attempts refused", err)
	}
	if ce.Value != "-0x14" {
		t.Fatalf("value %q, want -0x14 as written (error %q)", ce.Value, ce)
	}
}
