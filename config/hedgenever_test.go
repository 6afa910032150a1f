package config_test

import (
	"slices"
	"testing"
)

// TestWarnHedgeNeverSent: a hedge whose earliest delay is not below what ends each attempt
// first (retry.per_attempt_timeout, else the budget or deadline.max) can never send a hedge,
// and was accepted without a word: hedge {delay: 2s} under a 1s per-attempt timeout hedged
// nothing. It is warned about where it is configured, once: at the profile, at a service
// whose override brings it about, not again at that service's methods.
func TestWarnHedgeNeverSent(t *testing.T) {
	warns, got := parseWarnings(t, "hedge.yaml", `
profiles:
  fixed:
    hedge: {delay: 2s}
    retry: {max_attempts: 2, per_attempt_timeout: 1s}
  adaptive:
    hedge: {percentile: 0.9, delay: 9s, min_delay: 9s, max_delay: 10s}
  fits:
    hedge: {delay: 100ms}
    retry: {max_attempts: 2, per_attempt_timeout: 1s}
services:
  a.v1.Fixed:
    profile: fixed
    methods: {M: {}}
  a.v1.Cut:
    profile: fits
    retry: {per_attempt_timeout: 50ms}
    methods: {M: {}}
  a.v1.Fits: {profile: fits}
`)
	for _, want := range []string{
		"hedge.yaml:6: profiles.adaptive: hedge.min_delay 9s (the shortest adaptive delay) is not below the budget 8s, which ends each attempt first: no hedge is ever sent",
		"hedge.yaml:3: profiles.fixed: hedge.delay 2s (a fixed delay) is not below retry.per_attempt_timeout 1s, which ends each attempt first: no hedge is ever sent",
		`hedge.yaml:15: services."a.v1.Cut": hedge.delay 100ms (a fixed delay) is not below retry.per_attempt_timeout 50ms, which ends each attempt first: no hedge is ever sent`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no warning %q; warnings:\n%q", want, got)
		}
	}
	for _, w := range warns {
		switch w.Path {
		case "profiles.fits", `services."a.v1.Fits"`, `services."a.v1.Fixed"`, `services."a.v1.Fixed".methods.M`, `services."a.v1.Cut".methods.M`:
			t.Errorf("warning %q, want none there", w)
		}
	}
}
