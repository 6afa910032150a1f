package config_test

import (
	"slices"
	"testing"
)

// TestPerAttemptTimeoutNotBelowLimitWarned: with a fitted schedule a profile is judged on a
// brownout (attempts failing at once), so a retry.per_attempt_timeout at or above the budget
// (or deadline.max) passed without a word, though it then cuts no attempt: one that hangs
// runs until the call ends, and no retry follows it. OCR's 1.25s raised to 20s by a service
// was accepted silently. It is warned about where it is written, once.
func TestPerAttemptTimeoutNotBelowLimitWarned(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"service override", "services:\n  kyc.v1.OCRService:\n    retry: {per_attempt_timeout: 20s}\n    methods:\n      Extract: {retry: {max_attempts: 3}}\n",
			[]string{`w.yaml:2: services."kyc.v1.OCRService": retry.per_attempt_timeout 20s is not below the budget 8s, which ends the call first: an attempt that hangs runs until the call ends, and no retry follows it`}},
		{"profile, at deadline.max", "profiles:\n  p:\n    retry: {per_attempt_timeout: 3s, fit_schedule: true}\n    deadline: {max: 3s}\nservices:\n  a.v1.S: {profile: p}\n",
			[]string{`w.yaml:2: profiles.p: retry.per_attempt_timeout 3s is not below deadline.max 3s, which ends the call first: an attempt that hangs runs until the call ends, and no retry follows it`}},
		{"below the limit", "services:\n  kyc.v1.OCRService:\n    retry: {per_attempt_timeout: 7s}\n", nil},
		// Not fitted: the timeline warning already judges every attempt run to its timeout.
		{"schedule not fitted", "profiles:\n  p:\n    retry: {max_attempts: 2, per_attempt_timeout: 3s, fit_schedule: false}\n    deadline: {max: 3s}\nservices:\n  a.v1.S: {profile: p}\n",
			[]string{`w.yaml:2: profiles.p: worst case 6.1s exceeds deadline.max 3s by 3.1s: deadline.max ends during the sleep before attempt 2, so attempt 2 never runs`}},
		{"one attempt", "services:\n  kyc.v1.OCRService:\n    retry: {per_attempt_timeout: 20s, max_attempts: 1}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := parseWarnings(t, "w.yaml", tc.src); !slices.Equal(got, tc.want) {
				t.Errorf("warnings:\n %q\nwant\n %q", got, tc.want)
			}
		})
	}
}
