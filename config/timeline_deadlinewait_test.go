package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestWorstCaseWaitsCountAgainstDeadlineMax: deadline.max is the call's deadline, set by the
// deadline step before the bulkhead and the rate limiter wait, so a single attempt bounded by
// it lasts at most deadline.max, waits included. The timeline ran deadline.max after the
// longest wait: an 8s deadline.max with a 1s bulkhead wait was a 9s worst case, warned about
// as "exceeds the budget 8s by 1s: the budget cuts attempt 1" (the built-in ocr profile with
// retry turned off for one method, say).
func TestWorstCaseWaitsCountAgainstDeadlineMax(t *testing.T) {
	data := "profiles:\n  p:\n    bulkhead: {max_concurrent: 4, max_wait: 1s}\n    deadline: {max: 8s}\n" +
		"services:\n  kyc.v1.OCRService:\n    methods:\n      Extract:\n        retry: off\n"
	cfg, warns, err := config.Parse("w.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings %v, want none", warns)
	}
	tl := cfg.Resolve("/kyc.v1.OCRService/Extract").WorstCase()
	if tl.Total != 8*time.Second || tl.Cut() != "" || tl.Steps[0].Wait != time.Second {
		t.Errorf("worst case %v (cut %q, steps %+v), want 8s: 1s waiting, then the rest of deadline.max", tl.Total, tl.Cut(), tl.Steps)
	}
}

// TestWithoutDeadlineSingleAttemptNotWarned: a call without a deadline of its own gets
// deadline.default as its deadline, which bounds its attempts as deadline.max bounds those of
// a call with one. The timeline for such calls ran each attempt to deadline.max, so every
// profile or service with a deadline.default below its max and one attempt (retry off) was
// warned about: "for calls without a deadline of their own: worst case 2s exceeds
// deadline.default 1s by 1s: deadline.default cuts attempt 1", which is the deadline doing
// what it was set for.
func TestWithoutDeadlineSingleAttemptNotWarned(t *testing.T) {
	data := "profiles:\n  p:\n    deadline: {default: 1s, max: 2s}\n" +
		"services:\n  kyc.v1.S:\n    profile: fast\n    retry: off\n"
	_, warns, err := config.Parse("w.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings %v, want none", warns)
	}
}
