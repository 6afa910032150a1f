package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// Durations near the largest time.Duration (valid: no field has an upper bound) must not
// wrap around in a timeline: a worst case that overflows is longer than any limit, never a
// negative total that "fits".
func TestWorstCaseHugeDurationsDoNotWrap(t *testing.T) {
	huge := 2_000_000 * time.Hour // more than half the longest time.Duration
	for _, tt := range []struct {
		name    string
		profile config.Profile
	}{
		{"per-attempt timeouts", config.Profile{Retry: &retry.Config{MaxAttempts: 3, Jitter: retry.JitterNone, PerAttemptTimeout: huge}}},
		{"additive jitter", config.Profile{Retry: &retry.Config{MaxAttempts: 3, InitialBackoff: huge, MaxBackoff: 2_562_047 * time.Hour,
			Jitter: retry.JitterAdditive, JitterAmount: huge, PerAttemptTimeout: time.Second}}},
		// Waits count against a per-attempt timeout: without one, deadline.max bounds the call.
		{"waits", config.Profile{Retry: &retry.Config{MaxAttempts: 2, Jitter: retry.JitterNone}, Deadline: &deadline.Config{Max: time.Second},
			RateLimit: &ratelimit.Config{Rate: 1, MaxWait: huge}, Bulkhead: &bulkhead.Config{MaxWait: huge}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Profiles: map[string]config.Profile{"default": tt.profile}}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("profile invalid: %v", err)
			}
			tl := cfg.Resolve("/a.B/C").WorstCase()
			for _, s := range tl.Steps {
				if s.Start < 0 || s.End < s.Start {
					t.Errorf("step %+v wraps around", s)
				}
			}
			if tl.Total <= tl.Limit || tl.Cut() == "" {
				t.Errorf("Total = %v, Cut = %q; want a worst case over the %v limit, with what it cuts", tl.Total, tl.Cut(), tl.Limit)
			}
			var warned bool
			for _, w := range cfg.Warnings() {
				warned = warned || strings.HasPrefix(w.Path, "profiles.default")
			}
			if !warned {
				t.Errorf("no warning for profile default: %v", cfg.Warnings())
			}
		})
	}
}
