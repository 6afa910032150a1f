package app

import (
	"bytes"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestProgressLogsDoNotInterleave (issue 19 item 5): a log line written while the bar is up
// clears the bar, is written whole on its own line, and the bar is redrawn after it; once
// the bar is finished, logs pass through untouched.
func TestProgressLogsDoNotInterleave(t *testing.T) {
	var out bytes.Buffer
	p := &progress{w: &out}
	p.update(10, 10)
	bar := barLine(10, 10)
	if _, err := p.Write([]byte("WARN breaker state changed\n")); err != nil {
		t.Fatal(err)
	}
	want := "\r" + bar + "\r\033[K" + "WARN breaker state changed\n" + "\r" + bar
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
	out.Reset()
	p.finish()
	_, _ = p.Write([]byte("after\n"))
	p.update(10, 10)
	if out.String() != "\r\033[K"+"after\n" {
		t.Errorf("after finish: %q", out.String())
	}
}

func TestDigestLine(t *testing.T) {
	prev := map[string]kyc.ServiceStats{kyc.KeyOCR: {Calls: 10, Retries: 2}}
	if _, ok := digestLine(prev, prev); ok {
		t.Error("a digest line for a quiet period")
	}
	now := map[string]kyc.ServiceStats{kyc.KeyOCR: {Calls: 30, Retries: 2, Rejections: 5, BreakerOpens: 1}}
	fields, ok := digestLine(prev, now)
	if !ok || len(fields) != 1 || fields[0].Key != kyc.KeyOCR {
		t.Errorf("fields %v, ok %v; want one for ocr", fields, ok)
	}
}
