package config_test

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// TestREADMEConfiguration: the README's "Configuration" example parses, does what the prose
// beside it says (a profile a file defines replaces the built-in one as a whole; a service
// keeps its built-in profile and its fields override it), and its comments quote the built-in
// profiles' figures.
func TestREADMEConfiguration(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Configuration\n+```yaml\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README's Configuration section has no yaml example")
	}
	cfg, warns, err := config.Parse("README.md", m[1])
	if err != nil {
		t.Fatalf("the README's configuration: %v\n%s", err, m[1])
	}
	for _, w := range warns {
		t.Logf("warning: %v", w)
	}

	// The comments: "built in: 4 attempts, 1s..20s, additive jitter 3s" and "built in: 4
	// attempts, 0.5s..10s, jitter 1s".
	builtin := config.Builtin()
	for _, c := range []struct {
		profile string
		want    retry.Config
	}{
		{"ml", retry.Config{MaxAttempts: 4, InitialBackoff: time.Second, MaxBackoff: 20 * time.Second, Jitter: retry.JitterAdditive, JitterAmount: 3 * time.Second}},
		{"ocr", retry.Config{MaxAttempts: 4, InitialBackoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second, Jitter: retry.JitterAdditive, JitterAmount: time.Second}},
	} {
		r := builtin.Profiles[c.profile].Retry
		if r == nil {
			t.Fatalf("built-in profile %s has no retry section", c.profile)
		}
		got := retry.Config{MaxAttempts: r.MaxAttempts, InitialBackoff: r.InitialBackoff, MaxBackoff: r.MaxBackoff, Jitter: r.Jitter, JitterAmount: r.JitterAmount}
		if got != c.want {
			t.Errorf("built-in %s retry: %+v, the README's comment says %+v", c.profile, got, c.want)
		}
	}

	// kyc.v1.OCRService keeps its built-in profile, ocr, with max_attempts overridden, and
	// Extract's deadline.
	p := cfg.Resolve("/kyc.v1.OCRService/Extract")
	if p.ProfileName != "ocr" || p.Retry == nil || p.Retry.MaxAttempts != 2 || p.Retry.InitialBackoff != 500*time.Millisecond {
		t.Errorf("OCRService/Extract: profile %q, retry %+v; want ocr, 2 attempts from 500ms", p.ProfileName, p.Retry)
	}
	if p.Deadline == nil || p.Deadline.Default != 4*time.Second || p.Deadline.Max != 5*time.Second {
		t.Errorf("OCRService/Extract: deadline %+v, want default 4s, max 5s", p.Deadline)
	}
	if p.Budget != 8*time.Second || p.Breaker == nil || p.Hedge == nil {
		t.Errorf("OCRService/Extract: budget %v, breaker %v, hedge %v; want 8s and ocr's breaker and hedge", p.Budget, p.Breaker, p.Hedge)
	}

	// The ml written there replaces the built-in ml as a whole: the retry section as written,
	// and nothing else.
	p = cfg.Resolve("/kyc.v1.LivenessService/Check")
	if p.ProfileName != "ml" || p.Retry == nil || p.Retry.MaxAttempts != 4 || p.Retry.PerAttemptTimeout != 0 || p.Retry.FitSchedule {
		t.Errorf("LivenessService: profile %q, retry %+v; want ml's retry as written, without per-attempt timeout or fitted schedule", p.ProfileName, p.Retry)
	}
	if p.Breaker != nil || p.Hedge != nil || p.AdaptiveThrottle != nil || p.Bulkhead != nil || len(p.Classifier.Reasons) != 0 {
		t.Errorf("LivenessService: breaker %v, hedge %v, throttle %v, bulkhead %v, classifier %v; want none: the file's ml replaces the built-in one", p.Breaker, p.Hedge, p.AdaptiveThrottle, p.Bulkhead, p.Classifier)
	}
}
