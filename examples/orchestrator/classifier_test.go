package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifierUsesConfiguredClassifier: a -config that classes FAILED_PRECONDITION as
// transient makes the suite retry it; a step that still ends with it got no answer, so the
// verification is FAILED, not REJECTED for a "business" FAILED_PRECONDITION.
// A -config that classes FAILED_PRECONDITION transient makes the verifier treat it so too:
// a failed step (the suite retried it), not a business rejection of the applicant, and the
// dependency's last error.
func TestVerifierUsesConfiguredClassifier(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "cls.yaml")
	svc := "{retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 10ms, jitter_amount: 1ms}, hedge: off, breaker: off, adaptive_throttle: off, classifier: {codes: {FAILED_PRECONDITION: transient}}}"
	yaml := "services:\n  kyc.v1.LivenessService: " + svc + "\n  kyc.v1.FaceMatchService: " + svc + "\n  kyc.v1.OCRService: " + svc + "\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, _, stderr := runJSON(t, "-n", "5", "-fail", "failed_precondition=1", "-config", cfg,
		"-unreadable-rate", "0", "-spoof-rate", "0", "-mismatch-rate", "0", "-expired-rate", "0")
	if got := sum.Services["ocr"].Retries; got == 0 {
		t.Fatalf("the suite did not retry FAILED_PRECONDITION (retries %d): the config is not in force\n%s", got, stderr)
	}
	if sum.Rejected != 0 || sum.Failed != 5 {
		t.Errorf("rejected %d failed %d, want 0 and 5: a failure the config classes transient (and the suite retried) "+
			"was decided as a business rejection; rejected for %v", sum.Rejected, sum.Failed, sum.RejectedReasons)
	}
	for k := range sum.RejectedReasons {
		if strings.Contains(k, "FAILED_PRECONDITION") {
			t.Errorf("rejected reason %q", k)
		}
	}
	for _, k := range []string{"liveness", "facematch", "ocr"} {
		if sum.Services[k].LastError == "" {
			t.Errorf("%s: no last_error although every attempt failed with a transient (per -config) error", k)
		}
	}
}
