package retry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// TestValidateBounds: the inclusive ends of two ranges the Config documents.
func TestValidateBounds(t *testing.T) {
	if err := (retry.Config{Budget: time.Second, PerAttemptTimeout: time.Second}).Validate(); err != nil {
		t.Fatalf("per_attempt_timeout equal to budget: %v, want valid", err)
	}
	if err := (retry.Config{MaxAttempts: 100}).Validate(); err != nil {
		t.Fatalf("max_attempts 100: %v, want valid", err)
	}
	err := (retry.Config{MaxAttempts: 101}).Validate()
	if err == nil || !strings.Contains(err.Error(), "max_attempts: 101 is above 100") {
		t.Fatalf("max_attempts 101: %v, want \"max_attempts: 101 is above 100\"", err)
	}
	err = (retry.Config{Budget: time.Second, PerAttemptTimeout: time.Second + 1}).Validate()
	if err == nil || !strings.Contains(err.Error(), "per_attempt_timeout: 1.000000001s is above budget (1s)") {
		t.Fatalf("per_attempt_timeout above budget: %v", err)
	}
}
