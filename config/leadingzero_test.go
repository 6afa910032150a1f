package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestLeadingZeroNumbersRefused: YAML reads a plain whole number with a leading zero as octal
// when its digits allow it (010 is 8) and as decimal, or as a float, when they do not (09): a
// file's max_attempts: 010 ran with 8 attempts, multiplier: 010 with 8 but multiplier: 019
// with 19, and max_attempts: 09 was refused as "out of range (a whole number is at most
// 9223372036854775807 either way)". Such a number is refused, naming the field, the value as
// written and what to write instead.
func TestLeadingZeroNumbersRefused(t *testing.T) {
	for _, tc := range []struct{ field, value, rule string }{
		{"max_attempts", "010", "has a leading zero, which YAML reads as octal where the digits allow it (010 is 8): write 10, or 0o10 for the octal number"},
		{"max_attempts", "09", "has a leading zero, which YAML reads as octal where the digits allow it (010 is 8): write 9"},
		{"max_attempts", "-0_12", "has a leading zero, which YAML reads as octal where the digits allow it (010 is 8): write -12, or -0o12 for the octal number"},
		{"multiplier", "010", "has a leading zero, which YAML reads as octal where the digits allow it (010 is 8): write 10, or 0o10 for the octal number"},
		{"multiplier", "019", "has a leading zero, which YAML reads as octal where the digits allow it (010 is 8): write 19"},
	} {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			data := "profiles:\n  p:\n    retry:\n      " + tc.field + ": " + tc.value + "\n"
			_, _, err := config.Parse("zero.yaml", []byte(data))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want the value refused", err)
			}
			if ce.Path != "profiles.p.retry."+tc.field || ce.Line != 4 || ce.Value != tc.value || ce.Rule != tc.rule {
				t.Fatalf("error %q, want at line 4 %s: %s %s", ce, "profiles.p.retry."+tc.field, tc.value, tc.rule)
			}
		})
	}
	// Not numbers with a leading zero: zero itself, other bases, decimals and durations.
	data := "profiles:\n  p:\n    retry: {max_attempts: 0x0a, multiplier: 01.5, initial_backoff: 010ms}\n" +
		"    breaker: {consecutive_failures: 0, failure_rate_threshold: 0.5}\n"
	cfg, _, err := config.Parse("ok.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if r := cfg.Profiles["p"].Retry; r.MaxAttempts != 10 || r.Multiplier != 1.5 || r.InitialBackoff.Milliseconds() != 10 {
		t.Fatalf("retry %+v, want 10 attempts, multiplier 1.5, initial backoff 10ms", r)
	}
}
