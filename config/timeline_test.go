package config_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

func TestWorstCase(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		profile   config.Profile
		wantTotal time.Duration
		wantCut   string
	}{
		{"no retry, no timeout: the budget bounds the only attempt", config.Profile{}, 0, ""},
		{"decorrelated jitter triples up to the cap",
			config.Profile{Retry: &retry.Config{MaxAttempts: 4, InitialBackoff: 100 * ms, MaxBackoff: 500 * ms, Jitter: retry.JitterDecorrelated, PerAttemptTimeout: time.Second}},
			4*time.Second + 300*ms + 500*ms + 500*ms, ""},
		{"full jitter sleeps at most the base delay",
			config.Profile{Retry: &retry.Config{MaxAttempts: 3, InitialBackoff: time.Second, Multiplier: 3, PerAttemptTimeout: time.Second}},
			3*time.Second + time.Second + 3*time.Second, ""},
		{"budget ends during a sleep",
			config.Profile{Retry: &retry.Config{MaxAttempts: 3, InitialBackoff: 5 * time.Second, Jitter: retry.JitterNone, PerAttemptTimeout: time.Second}},
			3*time.Second + 5*time.Second + 10*time.Second, "the budget ends during the sleep before attempt 3, so attempt 3 never runs"},
		{"deadline.max bounds attempts and the call",
			config.Profile{Retry: &retry.Config{MaxAttempts: 2, Jitter: retry.JitterNone}, Deadline: &deadline.Config{Max: 3 * time.Second}},
			6*time.Second + 100*ms, "deadline.max ends during the sleep before attempt 2, so attempt 2 never runs"},
		{"retry.budget is the limit when tighter",
			config.Profile{Retry: &retry.Config{MaxAttempts: 2, Jitter: retry.JitterNone, PerAttemptTimeout: 2 * time.Second, Budget: 3 * time.Second}},
			4*time.Second + 100*ms, "retry.budget cuts attempt 2"},
		{"unbounded attempt with retries left",
			config.Profile{Retry: &retry.Config{MaxAttempts: 3}},
			0, "attempt 1 has no timeout (no retry.per_attempt_timeout or deadline.max), so in the worst case it runs until the budget 8s ends the call, and attempts 2 and 3 never run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Profiles: map[string]config.Profile{"default": tt.profile}}
			tl := cfg.Resolve("/a.B/C").WorstCase()
			if tl.Total != tt.wantTotal {
				t.Errorf("Total = %v, want %v", tl.Total, tt.wantTotal)
			}
			if got := tl.Cut(); got != tt.wantCut {
				t.Errorf("Cut = %q, want %q", got, tt.wantCut)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		wantPaths []string
	}{
		// ml's fitted schedule runs its 4 attempts in 7.7s when they fail at once (issue 15).
		{"built-ins do not warn", "", nil},
		{"ml without its fitted schedule warns", "services:\n  kyc.v1.LivenessService:\n    retry: {fit_schedule: false}\n",
			[]string{`services."kyc.v1.LivenessService"`}},
		{"a fitted schedule absorbs more attempts", "services:\n  kyc.v1.OCRService:\n    retry: {max_attempts: 5}\n    bulkhead: {max_wait: 250ms}\n", nil},
		{"an override that breaks the budget is named", "services:\n  kyc.v1.OCRService:\n    retry: {max_attempts: 5, fit_schedule: false}\n",
			[]string{`services."kyc.v1.OCRService"`}},
		{"waits alone can break a fitted schedule", "services:\n  kyc.v1.OCRService:\n    bulkhead: {max_wait: 3s}\n",
			[]string{`services."kyc.v1.OCRService"`}},
		{"an override that keeps the timeline is not", "services:\n  kyc.v1.FaceMatchService:\n    breaker: {recovery_timeout: 5s}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns, err := config.Parse("w.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != len(tt.wantPaths) {
				t.Fatalf("warnings %v, want at %v", warns, tt.wantPaths)
			}
			for i, w := range warns {
				if w.Path != tt.wantPaths[i] {
					t.Errorf("warning %d at %q, want %q", i, w.Path, tt.wantPaths[i])
				}
			}
		})
	}
}

// TestFittedML: the built-in ml profile's fitted schedule runs all 4 attempts within the 8s
// budget when they fail at once after a full bulkhead wait (issue 15), where its nominal
// schedule cuts attempt 2; with attempts running to their 3s timeouts (the bulkhead wait
// included), only 3 can start.
func TestFittedML(t *testing.T) {
	p := config.Builtin().ResolveService("kyc.v1.LivenessService")
	if p.WorstCase().Cut() == "" {
		t.Fatal("nominal ml schedule fits the budget; the test no longer shows the fit")
	}
	fast, ok := p.Fitted(true)
	if !ok {
		t.Fatal("ml is not fitted")
	}
	last := fast.Steps[len(fast.Steps)-1]
	if fast.Cut() != "" || last.Attempt != 4 || last.End > 8*time.Second || fast.Total != 7687*time.Millisecond {
		t.Fatalf("fitted brownout timeline: total %v, cut %q, last %+v", fast.Total, fast.Cut(), last)
	}
	slow, _ := p.Fitted(false)
	if got := slow.Cut(); got != "the budget cuts attempt 2, and attempts 3 and 4 never run" {
		t.Fatalf("fitted timeout timeline cut %q", got)
	}
	if _, ok := config.Builtin().ResolveService("kyc.v1.OCRService").Fitted(true); !ok {
		t.Fatal("ocr is not fitted")
	}
}
