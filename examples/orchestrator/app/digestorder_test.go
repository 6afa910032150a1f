package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// TestLastDigestBeforeSummary: the batch's last digest line is written before its summary, so
// that the summary is the last a run says about its progress. The digest was stopped (and its
// last line written) after the summary, on a terminal below it.
func TestLastDigestBeforeSummary(t *testing.T) {
	// One retry of OCR, down, at once: the only digest line is the last, written at the end.
	sc := filepath.Join(t.TempDir(), "sc.json")
	if err := os.WriteFile(sc, []byte(`{"methodConfig": [{"name": [{"service": "kyc.v1.OCRService"}], "retryPolicy": {"maxAttempts": 2,
		"initialBackoff": "0.001s", "maxBackoff": "0.001s", "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out testkit.SyncBuffer // stdout and stderr both, in the order written
	args := []string{"-n", "1", "-latency", "1ms", "-spike-rate", "0", "-fail", "", "-service-config", sc,
		"-outage", "1m", "-outage-service", "ocr", "-log-digest", "1h"}
	if err := Run(context.Background(), args, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	digest := strings.LastIndex(s, "digest")
	summary := strings.Index(s, "verifications")
	if digest < 0 || summary < 0 {
		t.Fatalf("no digest line or no summary:\n%s", s)
	}
	if digest > summary {
		t.Errorf("the last digest line comes after the summary:\n%s", s)
	}
}
