package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// TestDurationsAsWritten: an error names a duration as the file writes it, as it does a
// number (numbers_as_written), so that the value can be found in the file: -1500ms, not
// -1.5s; 90s, not 1m30s.
func TestDurationsAsWritten(t *testing.T) {
	data := "profiles:\n  p:\n    retry: {initial_backoff: -1500ms}\n    deadline: {default: 90s, max: 60s}\n" +
		"services:\n  kyc.v1.OCRService:\n    methods:\n      Extract:\n        deadline: {max: -2000ms}\n"
	_, _, err := config.Parse("d.yaml", []byte(data))
	want := map[string]string{
		"profiles.p.retry.initial_backoff":                          "-1500ms",
		"profiles.p.deadline.default":                               "90s",
		`services."kyc.v1.OCRService".methods.Extract.deadline.max`: "-2000ms",
	}
	got := map[string]string{}
	for _, e := range fielderr.Flatten(err) {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *config.Error", e)
		}
		got[ce.Path] = ce.Value
	}
	for path, v := range want {
		if got[path] != v {
			t.Errorf("%s: value %q, want %q as written (errors: %v)", path, got[path], v, err)
		}
	}
}

// TestRulesQuoteOtherFieldsAsWritten: a rule that names another field quotes its value as the
// file writes it too: "is above max (60s)", not "(1m0s)".
func TestRulesQuoteOtherFieldsAsWritten(t *testing.T) {
	data := "profiles:\n  p:\n    deadline: {default: 90s, max: 60s}\n"
	_, _, err := config.Parse("d.yaml", []byte(data))
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Path != "profiles.p.deadline.default" {
		t.Fatalf("Parse = %v, want the deadline's default refused", err)
	}
	if ce.Rule != "is above max (60s)" {
		t.Fatalf("rule %q, want %q", ce.Rule, "is above max (60s)")
	}
}
