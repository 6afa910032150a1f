package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/app"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExplain(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-explain"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kyc.v1.OCRService", "kyc.v1.LivenessService", "ml"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("-explain lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-fail", "bogus=0.1"}, {"-n", "-1"}, {"-concurrency", "0"}, {"-unreadable-rate", "0.7", "-spoof-rate", "0.5"},
		{"extra"}, {"-nosuchflag"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if !errors.Is(err, app.ErrUsage) || stderr.Len() == 0 {
			t.Errorf("%v: err %v, stderr %q; want a usage error reported on stderr", args, err, stderr.String())
		}
	}
	if err := run(context.Background(), []string{"-h"}, new(bytes.Buffer), new(bytes.Buffer)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if err := run(context.Background(), []string{"-config", "/nonexistent.yaml"}, new(bytes.Buffer), new(bytes.Buffer)); err == nil {
		t.Error("a missing config file is not an error")
	}
}
