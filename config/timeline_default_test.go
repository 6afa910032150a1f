package config_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// A call without a deadline of its own gets deadline.default, not deadline.max: a worst case
// that fits the cap but not the default cuts the attempts of every such call, and must be
// said, by Warnings and by Explain.
func TestWorstCaseBeyondTheDefaultDeadline(t *testing.T) {
	ms := time.Millisecond
	p := config.Profile{
		Retry:    &retry.Config{MaxAttempts: 2, InitialBackoff: 100 * ms, Jitter: retry.JitterNone, PerAttemptTimeout: time.Second},
		Deadline: &deadline.Config{Default: 2 * time.Second, Max: 5 * time.Second},
	}
	cfg := &config.Config{Profiles: map[string]config.Profile{"p": p}}
	ws := cfg.Warnings()
	if len(ws) != 1 || ws[0].Path != "profiles.p" || !strings.Contains(ws[0].Message, "deadline.default 2s") || !strings.Contains(ws[0].Message, "cuts attempt 2") {
		t.Errorf("warnings %v, want one at profiles.p saying deadline.default 2s cuts attempt 2", ws)
	}
	var out bytes.Buffer
	if err := config.Explain(&out, cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "deadline.default 2s") {
		t.Errorf("explain does not say what the default deadline cuts:\n%s", out.String())
	}

	// A worst case within the default says nothing more.
	p.Deadline.Default = 3 * time.Second
	if ws := cfg.Warnings(); len(ws) != 0 {
		t.Errorf("warnings %v with a default the worst case fits, want none", ws)
	}
}
