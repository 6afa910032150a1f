package main

import (
	"bytes"
	"context"
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
