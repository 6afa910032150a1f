package config_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// The retry policy starts no retry, and sleeps no backoff, unless retry.MinAttemptTime (5ms)
// would remain before the limit once the sleep is over: the call ends at the failure before.
// The timelines counted such an attempt as run (cut by the limit, or fitting it).

// An ml-like nominal schedule whose last sleep ends 4ms before the 8s budget: attempt 3 is
// never made, where the timeline said the budget cut it.
func TestWorstCaseMinAttemptTimeNominal(t *testing.T) {
	ms := time.Millisecond
	p := config.Profile{Retry: &retry.Config{MaxAttempts: 3, InitialBackoff: 998 * ms, Multiplier: 1, Jitter: retry.JitterNone, PerAttemptTimeout: 3 * time.Second}}
	cfg := &config.Config{Profiles: map[string]config.Profile{"default": p}}
	tl := cfg.Resolve("/a.B/C").WorstCase()
	// 0-3s attempt 1, 3s-3.998s sleep, 3.998s-6.998s attempt 2, 6.998s-7.996s sleep: 4ms left.
	want := "the sleep before attempt 3 would leave less than 5ms (retry.MinAttemptTime) before the budget ends, so attempt 3 never runs"
	if got := tl.Cut(); got != want {
		t.Errorf("Cut = %q, want %q", got, want)
	}
	var out bytes.Buffer
	if err := config.Explain(&out, cfg); err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, "attempt 3 (") && !strings.Contains(line, "never runs") {
			t.Errorf("explain shows attempt 3 as run: %q", line)
		}
	}
	// With 5ms left it runs, and the budget cuts it.
	p.Retry.InitialBackoff = 997 * ms
	if got := cfg.Resolve("/a.B/C").WorstCase().Cut(); got != "the budget cuts attempt 3" {
		t.Errorf("with 5ms left: Cut = %q, want the budget to cut attempt 3", got)
	}
}

// A fitted schedule under a tight limit: every attempt failing at once, the fitted sleeps leave
// the fourth attempt less than 5ms of a 10ms budget, so it never runs; the timeline ended at
// 6ms, within the budget, and no warning said so.
func TestFittedMinAttemptTime(t *testing.T) {
	p := config.Profile{Retry: &retry.Config{MaxAttempts: 4, InitialBackoff: 100 * time.Millisecond, PerAttemptTimeout: 8 * time.Millisecond, FitSchedule: true}}
	cfg := &config.Config{Budget: 10 * time.Millisecond, Profiles: map[string]config.Profile{"default": p}}
	fast, ok := cfg.Resolve("/a.B/C").Fitted(true)
	if !ok {
		t.Fatal("not fitted")
	}
	// Sleeps capped at remaining/(2·attempts left): 1ms (to 1ms), 2ms (to 3ms), 3ms (to 6ms,
	// 4ms before the budget's end).
	want := "the sleep before attempt 4 would leave less than 5ms (retry.MinAttemptTime) before the budget ends, so attempt 4 never runs"
	if got := fast.Cut(); got != want {
		t.Errorf("Cut = %q, want %q (steps %+v)", got, want, fast.Steps)
	}
	ws := cfg.Warnings()
	if len(ws) != 1 || ws[0].Path != "profiles.default" || !strings.Contains(ws[0].Message, "attempt 4 never runs") {
		t.Errorf("warnings %v, want one at profiles.default saying attempt 4 never runs", ws)
	}
}
