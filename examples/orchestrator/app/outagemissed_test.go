package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestOutageAfterTheBatchIsNamed: an -outage whose -outage-at comes after the batch has ended
// never runs; the run said nothing of it, and its summary read as that of a batch that had
// met the outage. A warning on stderr now says the outage never started; an outage that
// started gets none.
func TestOutageAfterTheBatchIsNamed(t *testing.T) {
	quiet := []string{"-n", "1", "-latency", "0s", "-spike-rate", "0", "-fail", "unavailable=0", "-log-digest", "0", "-json"}
	const want = "orchestrator: warning: the batch ended after "
	const why = ", before -outage-at 1h0m0s: the -outage never started (-outage-at counts from the start of the batch)\n"

	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), append(quiet, "-outage", "1s", "-outage-at", "1h"), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if i := strings.Index(stderr.String(), want); i < 0 || !strings.Contains(stderr.String()[i:], why) {
		t.Errorf("stderr of a batch that ended before -outage-at:\n%s\nwant a line %q...%q", stderr.String(), want, why)
	}

	stdout.Reset()
	stderr.Reset()
	if err := Run(context.Background(), append(quiet, "-outage", "1ns"), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "never started") {
		t.Errorf("stderr of a batch whose outage started at once:\n%s\nwant no warning that it never started", stderr.String())
	}
}
