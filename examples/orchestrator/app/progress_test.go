package app

import (
	"bytes"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

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

// TestDigestPeriodIsMeasured: the last digest, written when the batch ends, covers the time
// since the one before, not a whole -log-digest period; it said "period": "5s" after a batch
// of 1.7 s, so that counts divided by the period gave a rate three times too low.
func TestDigestPeriodIsMeasured(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	counters := kyc.NewCounters()
	stop := startDigest(counters, time.Hour, zap.New(core))
	counters.Observe(observe.Event{Kind: observe.AttemptFinished, Service: "kyc.v1.OCRService", Attempt: 2}) // a retry
	stop()                                                                                                   // long before the hour: the last digest
	entries := logs.FilterMessage("digest").All()
	if len(entries) != 1 {
		t.Fatalf("%d digest lines, want 1", len(entries))
	}
	d, ok := entries[0].ContextMap()["period"].(time.Duration)
	if !ok || d <= 0 || d >= time.Hour {
		t.Errorf("last digest period %v, want the time since the start (well under the 1h period)", entries[0].ContextMap()["period"])
	}
}
