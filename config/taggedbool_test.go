package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestTaggedBoolNotTrueOrFalseRefused: a value tagged !!bool that is not true or false
// (YAML 1.1's yes and on, or any word) loaded silently as false: idempotent: !!bool yes left
// retries of a call its writer said was idempotent off. It is refused as a plain yes is.
func TestTaggedBoolNotTrueOrFalseRefused(t *testing.T) {
	for _, value := range []string{"yes", "on", "1", "banana"} {
		t.Run(value, func(t *testing.T) {
			data := "profiles:\n  p:\n    retry:\n      idempotent: !!bool " + value + "\n"
			_, _, err := config.Parse("bool.yaml", []byte(data))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want !!bool %s refused", err, value)
			}
			if ce.Path != "profiles.p.retry.idempotent" || ce.Line != 4 || ce.Value != "!!bool "+value || ce.Rule != "is not true or false" {
				t.Fatalf("error %q, want at line 4 profiles.p.retry.idempotent: !!bool %s is not true or false", ce, value)
			}
		})
	}
	cfg, _, err := config.Parse("ok.yaml", []byte("profiles:\n  p:\n    retry: {idempotent: !!bool true, fit_schedule: !!bool False}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if r := cfg.Profiles["p"].Retry; !r.Idempotent || r.FitSchedule {
		t.Fatalf("retry %+v, want idempotent and no fit_schedule", r)
	}
}
