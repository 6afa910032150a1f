package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// TestNestedSectionOff: the README says bulkhead.adaptive is a section that a profile,
// service or method can turn off, but adaptive: off was refused ("is not a mapping of
// bulkhead.adaptive"), and so was throttle: off in retry, where the zero value is also off
// (no retry budget). Off, null and false there now turn the nested section off and keep the
// rest of the section, as they do for rate_limit.redis.
func TestNestedSectionOff(t *testing.T) {
	cfg := mustParse(t, `
profiles:
  p:
    bulkhead: {max_concurrent: 8, adaptive: off}
    retry: {max_attempts: 3, throttle: null}
services:
  kyc.v1.LivenessService:
    bulkhead: {adaptive: off}
    methods:
      Check: {retry: {throttle: false}}
  a.v1.Svc:
    profile: p
`)
	live := cfg.Resolve("/kyc.v1.LivenessService/Check")
	if live.Bulkhead == nil || live.Bulkhead.Adaptive != (bulkhead.Adaptive{}) || live.Bulkhead.MaxConcurrent != 64 {
		t.Errorf("liveness bulkhead = %+v, want ml's max_concurrent 64 with a fixed limit", live.Bulkhead)
	}
	if live.Retry == nil || live.Retry.Throttle != (retry.RetryBudgetConfig{}) || live.Retry.MaxAttempts != 4 || live.Retry.InitialBackoff != time.Second {
		t.Errorf("liveness Check retry = %+v, want ml's 4 attempts from 1s with no retry budget", live.Retry)
	}
	own := cfg.ResolveService("a.v1.Svc")
	if own.Bulkhead == nil || own.Bulkhead.Adaptive.Algorithm != bulkhead.AlgorithmNone || own.Bulkhead.MaxConcurrent != 8 {
		t.Errorf("a.v1.Svc bulkhead = %+v, want max_concurrent 8 with a fixed limit", own.Bulkhead)
	}
	if own.Retry == nil || own.Retry.Throttle != (retry.RetryBudgetConfig{}) || own.Retry.MaxAttempts != 3 {
		t.Errorf("a.v1.Svc retry = %+v, want 3 attempts with no retry budget", own.Retry)
	}

	// A scalar that does not turn it off is still refused, with what does.
	got := parseErrors(t, "services:\n  kyc.v1.LivenessService:\n    bulkhead: {adaptive: true}\n")
	want := `t.yaml:3: services."kyc.v1.LivenessService".bulkhead.adaptive: true is not a mapping of bulkhead.adaptive (off, false or null turns it off)`
	if len(got) != 1 || got[0] != want {
		t.Errorf("adaptive: true: %q, want %q", got, want)
	}
}
