package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"go.uber.org/zap/zapcore"
)

// TestBuiltinWarningsShowFromInfo: warnings about the built-in profiles show from -log-level
// info on (they are the same on every run), those about the user's -config at every level, as
// the README says. The built-ins warn of nothing today, so Run cannot show the rule: it is
// pinned on showWarnings, which Run calls.
func TestBuiltinWarningsShowFromInfo(t *testing.T) {
	warnings := []config.Warning{{Path: "profiles.ml", Message: "the schedule does not fit the budget"}}
	const line = "orchestrator: warning: profiles.ml: the schedule does not fit the budget\n"
	for _, tt := range []struct {
		ownFile bool
		level   zapcore.Level
		want    string
	}{
		{false, zapcore.DebugLevel, line},
		{false, zapcore.InfoLevel, line},
		{false, zapcore.WarnLevel, ""},
		{false, zapcore.ErrorLevel, ""},
		{true, zapcore.DebugLevel, line},
		{true, zapcore.InfoLevel, line},
		{true, zapcore.WarnLevel, line},
		{true, zapcore.ErrorLevel, line},
	} {
		var stderr strings.Builder
		showWarnings(&stderr, warnings, tt.ownFile, tt.level)
		if got := stderr.String(); got != tt.want {
			t.Errorf("own file %v, -log-level %v: stderr %q, want %q", tt.ownFile, tt.level, got, tt.want)
		}
	}
}

// TestOwnConfigWarningsShowAtEveryLevel: a warning about the user's -config file shows even
// at -log-level error.
func TestOwnConfigWarningsShowAtEveryLevel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "short.yaml")
	if err := os.WriteFile(path, []byte("budget: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if err := Run(context.Background(), []string{"-config", path, "-log-level", "error", "-n", "0"}, &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "orchestrator: warning: builtin.yaml:24: profiles.ml: worst case 4s exceeds the budget 1s") {
		t.Errorf("stderr at -log-level error lacks the -config's warnings:\n%s", stderr.String())
	}
}
