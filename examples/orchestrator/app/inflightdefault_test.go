package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// TestMaxInFlightDefaultsToTheConfigsBudget: -max-in-flight's default, 0, bounds an open loop
// at rate × budget × 1.25 with the budget of the configuration the run verifies under, not
// kyc's 8 s: a -config with a 2 s budget at -rate 1000 sheds past 2500, the built-ins past
// 10000.
func TestMaxInFlightDefaultsToTheConfigsBudget(t *testing.T) {
	if f, err := parseFlags(nil, new(strings.Builder)); err != nil || f.batch.MaxInFlight != 0 {
		t.Fatalf("default -max-in-flight: %v, %v, want 0", f, err)
	}
	short := filepath.Join(t.TempDir(), "short.yaml")
	if err := os.WriteFile(short, []byte("budget: 2s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		config []string
		budget time.Duration
	}{
		{nil, 8 * time.Second},
		{[]string{"-config", short}, 2 * time.Second},
	} {
		args := append([]string{"-json", "-rate", "1000", "-n", "1", "-fail", "", "-latency", "0s", "-spike-rate", "0"}, tt.config...)
		var stdout, stderr strings.Builder
		if err := Run(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
		var sum kyc.Summary
		if err := json.Unmarshal([]byte(stdout.String()), &sum); err != nil {
			t.Fatalf("stdout is not the summary: %v\n%s", err, stdout.String())
		}
		if want := kyc.DefaultInFlightLimit(1000, tt.budget); sum.InFlightLimit != want {
			t.Errorf("%v: in-flight bound %d, want %d (1000/s × %v × 1.25)", tt.config, sum.InFlightLimit, want, tt.budget)
		}
	}
}
