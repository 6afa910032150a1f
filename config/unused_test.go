package config_test

import (
	"slices"
	"strings"
	"testing"
)

// TestUnusedRetryBudgetFields: retry.throttle's min_per_second and window without a ratio, and
// its token_ratio without max_tokens, were accepted and did nothing (Explain said "no
// throttle"). Written so, in a profile or an override, they are refused like a jitter_amount
// without additive jitter; kept from a profile by a service that turns the budget off with
// ratio: 0 (or max_tokens: 0) alone, which cannot write their 0, they are a warning.
func TestUnusedRetryBudgetFields(t *testing.T) {
	for src, want := range map[string]string{
		"profiles:\n  p:\n    retry: {throttle: {min_per_second: 5, window: 30s}}\n": "t.yaml:3: profiles.p.retry.throttle.min_per_second: 5 is set but throttle.ratio is not: only the ratio budget reads it\n" +
			"t.yaml:3: profiles.p.retry.throttle.window: 30s is set but throttle.ratio is not: only the ratio budget reads it",
		"profiles:\n  p:\n    retry: {throttle: {max_tokens: 10, window: 30s}}\n": "t.yaml:3: profiles.p.retry.throttle.window: 30s is set but throttle.ratio is not: only the ratio budget reads it",
		"profiles:\n  p:\n    retry: {throttle: {token_ratio: 0.5}}\n":            "t.yaml:3: profiles.p.retry.throttle.token_ratio: 0.5 is set but throttle.max_tokens is not: only the token bucket reads it",
		// An override that writes one is refused at it.
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle:\n        ratio: 0\n        min_per_second: 5\n":                   `t.yaml:6: services."kyc.v1.OCRService".retry.throttle.min_per_second: 5 is set but throttle.ratio is not: only the ratio budget reads it`,
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle:\n        ratio: 0\n        max_tokens: 10\n        window: 20s\n": `t.yaml:7: services."kyc.v1.OCRService".retry.throttle.window: 20s is set but throttle.ratio is not: only the ratio budget reads it`,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}

	// ocr's ratio budget turned off by a service: its floor and window stay, unused.
	for _, src := range []string{
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle: {ratio: 0}\n",
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle: {max_tokens: 0, ratio: 0}\n",
	} {
		warns, _ := parseWarnings(t, "t.yaml", src)
		want := []string{
			"retry.throttle.min_per_second: 2 is set but throttle.ratio is not: only the ratio budget reads it (kept from what this overrides, it has no effect here)",
			"retry.throttle.window: 10s is set but throttle.ratio is not: only the ratio budget reads it (kept from what this overrides, it has no effect here)",
		}
		if got := warningsAt(warns, `services."kyc.v1.OCRService"`); !slices.Equal(got, want) {
			t.Errorf("%q: warnings at the service:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, w := range warns { // at the service, which turns the budget off
			if strings.HasPrefix(w.Message, "retry.throttle") && (w.File != "t.yaml" || w.Line != 2) {
				t.Errorf("%q: warning %q not located in t.yaml", src, w.String())
			}
		}
	}
}
