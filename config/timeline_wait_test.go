package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// TestWorstCaseWaitsCountAgainstThePerAttemptTimeout: the retry step gives each attempt its
// per-attempt deadline before the steps below it (rate limit, bulkhead) wait, and those waits
// are cut to it, so an attempt lasts at most per_attempt_timeout, waits included. The
// timeline ran the timeout after the longest wait: 3s attempts after a 3s bulkhead wait took
// 6s each, and a schedule that fits the budget (3s + 1s + 3s = 7s of 8s) was warned about as
// 13s with its second attempt cut.
func TestWorstCaseWaitsCountAgainstThePerAttemptTimeout(t *testing.T) {
	s := time.Second
	p := config.Profile{
		Retry:    &retry.Config{MaxAttempts: 2, InitialBackoff: s, Jitter: retry.JitterNone, PerAttemptTimeout: 3 * s},
		Bulkhead: &bulkhead.Config{MaxConcurrent: 1, MaxWait: 3 * s},
	}
	cfg := &config.Config{Profiles: map[string]config.Profile{"default": p}}
	tl := cfg.Resolve("/a.B/C").WorstCase()
	if tl.Total != 7*s || tl.Cut() != "" {
		t.Errorf("worst case %v (cut: %q), want 7s, within the budget: each attempt is at most its 3s timeout, waits included", tl.Total, tl.Cut())
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings %v, want none", w)
	}
	// Failing at once after the longest wait: the wait is cut at the timeout too.
	p.Retry.FitSchedule = true
	p.Bulkhead.MaxWait = 5 * s
	cfg = &config.Config{Profiles: map[string]config.Profile{"default": p}}
	if tl, _ := cfg.Resolve("/a.B/C").Fitted(true); tl.Steps[0].End != 3*s {
		t.Errorf("brownout attempt 1 ends at %v, want 3s: its 5s wait is cut by its 3s timeout", tl.Steps[0].End)
	}
}

// TestWorstCaseWaitsCountAgainstTheDeadline: without a per-attempt timeout, deadline.max bounds
// an attempt; it is the call's deadline, set before the rate limiter and the bulkhead wait, and
// their waits are cut to it as to a per-attempt deadline. The timeline ran deadline.max after
// the longest wait: a call capped at 5s behind a 1s bulkhead wait was shown as 6s, and warned
// about ("deadline.max cuts attempt 1") where the same call without the wait was not.
func TestWorstCaseWaitsCountAgainstTheDeadline(t *testing.T) {
	s := time.Second
	p := config.Profile{
		Bulkhead: &bulkhead.Config{MaxConcurrent: 1, MaxWait: s},
		Deadline: &deadline.Config{Max: 5 * s},
	}
	cfg := &config.Config{Profiles: map[string]config.Profile{"default": p}}
	tl := cfg.Resolve("/a.B/C").WorstCase()
	if tl.Total != 5*s || tl.Cut() != "" {
		t.Errorf("worst case %v (cut: %q), want 5s, within deadline.max: the wait counts against the call's deadline", tl.Total, tl.Cut())
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings %v, want none", w)
	}
}
