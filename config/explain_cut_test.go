package config_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// A per-attempt timeout above the call budget runs as the budget (retry.AttemptTimeout): the
// retry line says what runs, beside what is configured, for a profile and for a service's
// override; one within the budget is written as it is.
func TestExplainPerAttemptCutByTheBudget(t *testing.T) {
	explainSays(t, `
budget: 8s
profiles:
  p:
    retry: {max_attempts: 2, per_attempt_timeout: 10s}
  q:
    retry: {max_attempts: 2, per_attempt_timeout: 8s}
services:
  a.v1.T:
    profile: q
    retry: {per_attempt_timeout: 9s}
`,
		"\nprofile p\n  retry              2 attempts; backoff 100ms x2 up to 10s, full jitter; per attempt 10s (cut to 8s by the budget); no throttle",
		"\nprofile q\n  retry              2 attempts; backoff 100ms x2 up to 10s, full jitter; per attempt 8s; no throttle",
		"\nservice a.v1.T: profile q, overriding retry\n  retry  2 attempts; backoff 100ms x2 up to 10s, full jitter; per attempt 9s (cut to 8s by the budget); no throttle",
	)
}

// A retry time budget above the call budget runs as the call budget (retry.TimeBudget): the
// retry line says so, as it does for the per-attempt timeout; one within it is written as it
// is.
func TestExplainRetryTimeBudgetCutByTheBudget(t *testing.T) {
	explainSays(t, `
budget: 8s
profiles:
  p:
    retry: {max_attempts: 2, budget: 12s, per_attempt_timeout: 1s}
  q:
    retry: {max_attempts: 2, budget: 5s, per_attempt_timeout: 1s}
`,
		"\nprofile p\n  retry              2 attempts; backoff 100ms x2 up to 10s, full jitter; per attempt 1s; time budget 12s (cut to 8s by the budget); no throttle",
		"\nprofile q\n  retry              2 attempts; backoff 100ms x2 up to 10s, full jitter; per attempt 1s; time budget 5s; no throttle",
	)
}

// A deadline default or max above the call budget runs as the budget (the suite's deadline
// step caps both at it): the deadline line says what runs, beside what is configured, as the
// retry line does, for a profile and for a service's override; one within the budget is
// written as it is. Regression: the line said "default 10s, max 20s" of calls cut at 8s.
func TestExplainDeadlineCutByTheBudget(t *testing.T) {
	explainSays(t, `
budget: 8s
profiles:
  p:
    deadline: {default: 10s, max: 20s}
  q:
    deadline: {default: 2s, max: 8s}
services:
  a.v1.T:
    profile: q
    deadline: {max: 9s}
`,
		"\n  deadline           default 10s (cut to 8s by the budget), max 20s (cut to 8s by the budget)\n",
		"\n  deadline           default 2s, max 8s\n",
		"\nservice a.v1.T: profile q, overriding deadline\n  deadline  default 2s, max 9s (cut to 8s by the budget)\n",
	)
}

// explainSays parses yml and fails t for each of wants that Explain's output does not hold.
func explainSays(t *testing.T, yml string, wants ...string) {
	t.Helper()
	cfg, _, err := config.Parse("x.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := config.Explain(&b, cfg); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("Explain does not say\n%s\nin\n%s", want, out)
		}
	}
}
