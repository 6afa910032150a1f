package config_test

import (
	"slices"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestWarnHedgeEdges pins the hedge warning at its edges: a hedge due exactly when the
// per-attempt timeout ends the attempt is never sent (not below is the rule), and an adaptive
// hedge's earliest delay is the smaller of delay and min_delay: a min_delay below the timeout
// can be sent even when the first delay is not.
func TestWarnHedgeEdges(t *testing.T) {
	_, got := parseWarnings(t, "h.yaml", `
profiles:
  equal:
    hedge: {delay: 100ms}
    retry: {max_attempts: 2, per_attempt_timeout: 100ms}
  adaptive:
    hedge: {percentile: 0.9, delay: 200ms, min_delay: 10ms, max_delay: 1s}
    retry: {max_attempts: 2, per_attempt_timeout: 100ms}
`)
	want := []string{"h.yaml:3: profiles.equal: hedge.delay 100ms (a fixed delay) is not below retry.per_attempt_timeout 100ms, which ends each attempt first: no hedge is ever sent"}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
}

// TestWarnNotRepeatedForDefaultAtTheLimit: a service whose override sets deadline.default to
// the limit itself changes nothing a call without a deadline gets, so the profile's warning is
// not said again at the service.
func TestWarnNotRepeatedForDefaultAtTheLimit(t *testing.T) {
	_, warns, err := config.Parse("d.yaml", []byte(`
profiles:
  slow:
    retry: {max_attempts: 3, initial_backoff: 1s, jitter: none, per_attempt_timeout: 3s}
services:
  a.v1.S:
    profile: slow
    deadline: {default: 8s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || warns[0].Path != "profiles.slow" {
		t.Errorf("warnings %v, want one, at profiles.slow", warns)
	}
}
