package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// -trace stdout prints, on stderr, a call span per logical call with its attempts as events,
// and otelgrpc's span per request beneath it.
func TestTraceStdout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-n", "2", "-trace", "stdout", "-fail", "unavailable=0"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	out := stderr.String()
	for _, want := range []string{`"Name": "bulwark /kyc.v1.OCRService/Extract"`, `"Name": "bulwark.attempt"`, `"Name": "kyc.v1.OCRService/Extract"`, `"bulwark.class"`} {
		if !strings.Contains(out, want) {
			t.Errorf("trace output lacks %s", want)
		}
	}
}

func TestTraceBadSpec(t *testing.T) {
	for _, spec := range []string{"jaeger", "otlp="} {
		err := run(context.Background(), []string{"-trace", spec, "-n", "1"}, new(bytes.Buffer), new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), "-trace") {
			t.Errorf("-trace %q: %v, want an error naming the flag", spec, err)
		}
	}
}

// TestTraceBadSpecIsUsage: a bad -trace value is a bad command line like any other flag's:
// exit status 2, one line naming the flag and the value with the hint, found before anything
// starts; it was a run failure (status 1) without the hint.
func TestTraceBadSpecIsUsage(t *testing.T) {
	for _, spec := range []string{"jaeger", "otlp="} {
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"-trace", spec, "-n", "1"}, new(bytes.Buffer), &stderr)
		if code := exitCode(err); code != 2 {
			t.Errorf("-trace %q: exit status %d (%v), want 2", spec, code, err)
		}
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if !strings.Contains(first, "-trace") || !strings.Contains(first, spec) || !strings.Contains(first, "otlp=HOST:PORT") {
			t.Errorf("-trace %q: first line %q, want the flag, the value and the rule", spec, first)
		}
		if !strings.Contains(stderr.String(), "orchestrator -h") {
			t.Errorf("-trace %q: stderr lacks the hint:\n%s", spec, stderr.String())
		}
	}
}

// -service-config converts a gRPC service config; -explain prints the profiles and, on
// stderr, what has no equivalent.
func TestServiceConfigExplain(t *testing.T) {
	path := t.TempDir() + "/sc.json"
	doc := `{"methodConfig":[{"name":[{"service":"kyc.v1.OCRService"}],"waitForReady":true,
		"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.2s","maxBackoff":"2s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-service-config", path, "-explain"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v", err)
	}
	if out := stdout.String(); !strings.Contains(out, "service kyc.v1.OCRService: profile grpc-0") || !strings.Contains(out, "3 attempts; backoff 200ms x2 up to 2s, full jitter") {
		t.Errorf("explain output:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "methodConfig[0].waitForReady") {
		t.Errorf("stderr lacks the waitForReady warning:\n%s", stderr.String())
	}
}
