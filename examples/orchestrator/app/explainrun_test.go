package app

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestExplainDescribesTheRun: -explain describes the run its other flags would make (the
// batch's size, loop and bound, the deadlines, the embedded stubs' faults, the outage) after
// the policies, then exits. It printed the policies alone, the same with -fail
// unavailable=0.3 -concurrency 32 -outage 5s as without them.
func TestExplainDescribesTheRun(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-fail", "unavailable=0.3", "-concurrency", "32", "-n", "500", "-latency", "50ms",
			"-outage", "5s", "-outage-at", "2s", "-outage-service", "ocr"}, `run (what this command line would do; -explain starts nothing)
  batch        500 verifications, closed loop: 32 at once, each starting the next when it ends
  applicants   5% unreadable document, 2% spoof, 2% selfie not matching, 1% expired document, 90% genuine; seed 1
  deadline     each verification: its 3 steps at once under one deadline of 8s (the budget): the slowest step, not the sum, must fit
  liveness     embedded stub; profile ml, each call cut at 8s (the verification's deadline)
  facematch    embedded stub; profile ml, each call cut at 8s (the verification's deadline)
  ocr          embedded stub; profile ocr, each call cut at 8s (the verification's deadline)
  stub faults  liveness, facematch, ocr: 30% of requests fail (unavailable=0.3); latency 50ms; 1% of requests +300ms; pushback 200ms unused: no resource_exhausted injected
  outage       ocr: every call UNAVAILABLE and health NOT_SERVING for 5s, from 2s after the start of the batch until 7s
`},
		{[]string{"-rate", "50", "-n", "1000", "-ocr", "10.0.0.7:50051", "-fail", "unavailable=0.2,resource_exhausted=0.1",
			"-spike-rate", "0", "-capacity", "8", "-outage", "3s", "-seed", "7", "-spoof-rate", "0.1"}, `run (what this command line would do; -explain starts nothing)
  batch        1000 verifications, open loop: 50 started per second whether or not earlier ones ended (the last at 19.98s); an arrival finding 500 (rate × budget 8s × 1.25) running is shed
  applicants   5% unreadable document, 10% spoof, 2% selfie not matching, 1% expired document, 82% genuine; seed 7
  deadline     each verification: its 3 steps at once under one deadline of 8s (the budget): the slowest step, not the sum, must fit
  liveness     embedded stub; profile ml, each call cut at 8s (the verification's deadline)
  facematch    embedded stub; profile ml, each call cut at 8s (the verification's deadline)
  ocr          external at 10.0.0.7:50051 (its faults are its own); profile ocr, each call cut at 8s (the verification's deadline)
  stub faults  liveness, facematch: 30% of requests fail (resource_exhausted=0.1,unavailable=0.2); latency 20ms; resource_exhausted with a 200ms pushback; full speed up to 8 requests in service, slower past it
  outage       liveness, facematch: every call UNAVAILABLE and health NOT_SERVING for 3s, from the start of the batch
`},
		{[]string{"-serve", "127.0.0.1:50060", "-stop-timeout", "2s"}, `run (what this command line would do; -explain starts nothing)
  serve        kyc.v1.KYCService on 127.0.0.1:50060, no batch; a graceful stop waits up to 2s
  deadline     each request one verification: its 3 steps at once under one deadline, 8s (the budget) or the caller's, the earlier
  liveness     embedded stub; profile ml, each call cut at 8s (the verification's deadline)
  facematch    embedded stub; profile ml, each call cut at 8s (the verification's deadline)
  ocr          embedded stub; profile ocr, each call cut at 8s (the verification's deadline)
  stub faults  liveness, facematch, ocr: 2% of requests fail (unavailable=0.02); latency 20ms; 1% of requests +300ms; pushback 200ms unused: no resource_exhausted injected
  outage       none
`},
	} {
		var stdout, stderr bytes.Buffer
		if err := Run(context.Background(), append([]string{"-explain"}, tt.args...), &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v\n%s", tt.args, err, stderr.String())
		}
		out := stdout.String()
		if !strings.HasPrefix(out, "budget 8s\n") {
			t.Errorf("%v: the policies no longer come first:\n%s", tt.args, out)
		}
		_, run, ok := strings.Cut(out, "\n\nrun ")
		if !ok {
			t.Errorf("%v: no run section:\n%s", tt.args, out)
			continue
		}
		if got := "run " + run; got != tt.want {
			t.Errorf("%v: run section\n%s\nwant\n%s", tt.args, got, tt.want)
		}
	}
}

// TestExplainRunShowsTheDeadlinesOfTheConfig: a step's line says what cuts its calls, the
// verification's deadline or a shorter deadline.max of its profile, from -config.
func TestExplainRunShowsTheDeadlinesOfTheConfig(t *testing.T) {
	path := t.TempDir() + "/c.yaml"
	if err := os.WriteFile(path, []byte("budget: 5s\nservices:\n  kyc.v1.OCRService: {profile: fast}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), []string{"-explain", "-config", path}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{
		"  deadline     each verification: its 3 steps at once under one deadline of 5s (the budget)",
		"  liveness     embedded stub; profile ml, each call cut at 5s (the verification's deadline)\n",
		"  ocr          embedded stub; profile fast, each call cut at 2s (deadline.max)\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("-explain lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestExplainBatchOfNone: -n 0 starts no verification, and -explain says so; it read "closed
// loop: all 0 at once (-n 0 is below -concurrency 16)", and in an open loop "the last at 0s",
// of a batch with no first and no last. A batch of one reads "1 verification", not
// "1 verifications".
func TestExplainBatchOfNone(t *testing.T) {
	for _, args := range [][]string{{"-n", "0"}, {"-n", "0", "-rate", "10"}} {
		var stdout, stderr bytes.Buffer
		if err := Run(context.Background(), append([]string{"-explain"}, args...), &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
		want := "\n  batch        no verification (-n 0): the batch starts none, and its summary counts none\n"
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("%v: -explain lacks %q:\n%s", args, want, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), []string{"-explain", "-n", "1", "-rate", "2"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if want := "\n  batch        1 verification, open loop: "; !strings.Contains(stdout.String(), want) {
		t.Errorf("-n 1: -explain lacks %q:\n%s", want, stdout.String())
	}
}
