package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	grpccodes "google.golang.org/grpc/codes"
)

// TestClassifierRules pins the classifier rules at their edges: UNAUTHENTICATED, the last
// gRPC code, is a code a profile may classify; an empty reason is refused, naming the field.
func TestClassifierRules(t *testing.T) {
	cfg, _, err := config.Parse("c.yaml", []byte("profiles:\n  p:\n    classifier:\n      codes: {UNAUTHENTICATED: transient}\n"))
	if err != nil {
		t.Fatalf("UNAUTHENTICATED: transient: error %v, want none", err)
	}
	if got := cfg.Profiles["p"].Classifier.Codes[grpccodes.Unauthenticated]; got.String() != "transient" {
		t.Errorf("classifier.codes.UNAUTHENTICATED = %v, want transient", got)
	}

	for _, tt := range []struct{ yaml, want string }{
		{"profiles:\n  p:\n    classifier:\n      reasons: {\"\": business}\n",
			`r.yaml:4: profiles.p.classifier.reasons: "" is not a reason: it is empty`},
		{"services:\n  a.v1.S:\n    profile: ml\n    classifier: {reasons: {\"\": business}}\n",
			`r.yaml:4: services."a.v1.S".classifier.reasons: "" is not a reason: it is empty`},
	} {
		_, _, err := config.Parse("r.yaml", []byte(tt.yaml))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: error %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

// TestSectionValidWithItsDefaults: a section valid as written is refused when a default that
// fills it in makes it invalid, as the policy's New would refuse it: max_backoff 50ms alone
// is below the default initial_backoff 100ms.
func TestSectionValidWithItsDefaults(t *testing.T) {
	_, _, err := config.Parse("d.yaml", []byte("profiles:\n  p:\n    retry: {max_backoff: 50ms}\n"))
	want := "d.yaml:3: profiles.p.retry.max_backoff: 50ms is below initial_backoff (100ms)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}
