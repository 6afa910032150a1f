package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/app"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func TestMain(m *testing.M) {
	// The signal tests run this test binary as the command itself.
	if args, ok := os.LookupEnv("ORCHESTRATOR_TEST_MAIN"); ok {
		os.Args = append([]string{"orchestrator"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// command starts this test binary as the orchestrator with args.
func command(t *testing.T, args string) (*exec.Cmd, *testkit.SyncBuffer, *testkit.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ORCHESTRATOR_TEST_MAIN="+args)
	stdout, stderr := new(testkit.SyncBuffer), new(testkit.SyncBuffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stdout, stderr
}

// waitExit waits for cmd to exit and returns its status.
func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		// A non-zero exit is what the caller asserts on; any other error is the wait's own.
		if _, exited := errors.AsType[*exec.ExitError](err); err != nil && !exited {
			t.Fatalf("waiting for the command: %v", err)
		}
		return cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("the command did not exit within %v", within)
		return -1
	}
}

// TestSIGINTExits130 (issue 19 item 4): SIGINT during a batch prints the summary marked
// interrupted and exits 130.
func TestSIGINTExits130(t *testing.T) {
	// The signal comes once -metrics counts a verification ended, so that the batch is under
	// way: a fixed sleep was a guess that a busy machine could outlast before main ran (issue
	// 17 item 12), and then one of 500ms that it could outlast before the batch started.
	cmd, stdout, stderr := command(t, "-rate 10 -n 1000 -fail= -latency 1ms -spike-rate 0 -metrics 127.0.0.1:0 -log-level info")
	metricsRE := regexp.MustCompile(`metrics\t\{"addr": "([^"]+)"\}`)
	var metricsAddr string
	for deadline := time.Now().Add(30 * time.Second); metricsAddr == ""; time.Sleep(20 * time.Millisecond) {
		if m := metricsRE.FindStringSubmatch(stderr.String()); m != nil {
			metricsAddr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no metrics line:\n%s", stderr.String())
		}
	}
	decided := regexp.MustCompile(`(?m)^kyc_verifications_total\{[^}]*\} [1-9]`)
	for deadline := time.Now().Add(30 * time.Second); !decided.MatchString(scrape(t, metricsAddr)); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no verification ended within 30s:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 30*time.Second); code != 130 {
		t.Errorf("exit status %d, want 130\n%s", code, stderr.String())
	}
	// 1000 arrivals at 10/s: a verification ended, and most had not started.
	partial := regexp.MustCompile(`(?m)\AINTERRUPTED: partial summary \(\d+ cancelled in flight, [1-9]\d* not started\)\n(?s:.*)^verifications +[1-9]`)
	if !partial.MatchString(stdout.String()) {
		t.Errorf("stdout is not a partial summary of a batch under way:\n%s", stdout.String())
	}
}

// TestSecondSIGINTExitsAtOnce (item 4): in -serve, the first SIGINT starts a graceful stop
// that waits for a verification in flight (which would then exit 0); a second one exits 130
// at once.
func TestSecondSIGINTExitsAtOnce(t *testing.T) {
	cmd, _, stderr := command(t, "-serve 127.0.0.1:0 -stop-timeout 1m -fail= -latency 1m -spike-rate 0 -metrics 127.0.0.1:0 -log-level info")
	re := regexp.MustCompile(`serving kyc.v1.KYCService on (\S+)`)
	metricsRE := regexp.MustCompile(`metrics\t\{"addr": "([^"]+)"\}`)
	var addr, metricsAddr string
	for deadline := time.Now().Add(30 * time.Second); addr == "" || metricsAddr == ""; time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		if m := metricsRE.FindStringSubmatch(stderr.String()); m != nil {
			metricsAddr = m[1]
		}
		if (addr == "" || metricsAddr == "") && time.Now().After(deadline) {
			t.Fatalf("no serving or metrics line:\n%s", stderr.String())
		}
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	called := make(chan struct{})
	go func() {
		defer close(called)
		_, _ = kycv1.NewKYCServiceClient(cc).Verify(ctx, kyc.Request(1, kyc.CaseGenuine))
	}()
	// The verification is in flight, waiting on the stubs' 1m latency, once a bulkhead counts
	// it: a fixed 500ms was a guess a busy machine could outlast, and a SIGINT with nothing in
	// flight stops at once with status 0 (issue 17 item 12).
	inFlight := regexp.MustCompile(`(?m)^bulwark_bulkhead_in_flight\{[^}]*\} [1-9]`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if inFlight.MatchString(scrape(t, metricsAddr)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the verification never showed in flight:\n%s", scrape(t, metricsAddr))
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	// Two signals close together can reach the process as one: a second SIGINT 200ms after the
	// first, on a busy machine, merged into it, and the command waited out its 1m graceful
	// stop. The second is sent once the command says it took the first.
	waitStderr(t, stderr, "orchestrator: SIGINT received; stopping gracefully (a second SIGINT or SIGTERM exits at once, status 130)")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("second SIGINT: %v (the command exited after the first)\n%s", err, stderr.String())
	}
	if code := waitExit(t, cmd, 30*time.Second); code != 130 || !strings.Contains(stderr.String(), "orchestrator: interrupted again; exiting at once") {
		t.Errorf("exit status %d after a second SIGINT, want 130 and the line saying so\n%s", code, stderr.String())
	}
	cancel()
	<-called
}

// waitStderr waits for stderr to hold line, failing the test if it does not within 30s.
func waitStderr(t *testing.T, stderr *testkit.SyncBuffer, line string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), line); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on stderr within 30s:\n%s", line, stderr.String())
		}
	}
}

// scrape returns the body of http://addr/metrics, or "" when it cannot be read.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true} // no idle connection left for goleak
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

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
		{"-fail", "bogus=0.1"}, {"-n", "-1"}, {"-n", "1000001"}, {"-n", "100000000000"}, {"-concurrency", "0"}, {"-unreadable-rate", "0.7", "-spoof-rate", "0.5"},
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

// runJSON runs the command with -json and quiet stubs, and decodes the summary.
func runJSON(t *testing.T, args ...string) (kyc.Summary, map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"-json", "-latency", "1ms", "-spike-rate", "0"}, args...)
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	var sum kyc.Summary
	var raw map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not the summary: %v\n%s", err, stdout.String())
	}
	_ = json.Unmarshal(stdout.Bytes(), &raw)
	return sum, raw, stderr.String()
}

// TestRateOpenLoopOutage: -rate starts arrivals on a clock, and an -outage of one embedded
// service makes its steps fail; the summary reports the open loop, the share decided, the
// seconds of arrivals lost, and the attempts counted at the stubs apart from those the suite
// refused locally.
func TestRateOpenLoopOutage(t *testing.T) {
	// Hedging and the bulkheads off: a hedge adds a request to a healthy service whenever the
	// machine stalls an answer past the delay, and this test counts requests exactly.
	cfg := filepath.Join(t.TempDir(), "exact.yaml")
	off := "{hedge: off, bulkhead: off}"
	if err := os.WriteFile(cfg, []byte("services:\n  kyc.v1.LivenessService: "+off+"\n  kyc.v1.FaceMatchService: "+off+"\n  kyc.v1.OCRService: "+off+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, raw, stderr := runJSON(t, "-rate", "100", "-n", "40", "-fail", "", "-outage", "1m", "-outage-service", "ocr",
		"-unreadable-rate", "0", "-spoof-rate", "0", "-mismatch-rate", "0", "-expired-rate", "0", "-config", cfg)
	for _, k := range []string{"mode", "interrupted", "total", "approved", "rejected", "failed", "cancelled", "shed",
		"decided_pct", "p50_ms", "p99_ms", "max_ms", "throughput_per_s", "rate", "arrivals_lost_s", "in_flight_limit",
		"max_in_flight", "breaker_opens", "hedges", "services"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
	if sum.Mode != "open" || sum.Rate != 100 || sum.Total != 40 || sum.InFlightLimit != 1000 {
		t.Errorf("mode %q rate %v total %d bound %d", sum.Mode, sum.Rate, sum.Total, sum.InFlightLimit)
	}
	// Every applicant is genuine and OCR is down: nothing can be decided.
	if sum.Failed != 40 || sum.DecidedPct != 0 || sum.ArrivalsLostS != 0.4 {
		t.Errorf("failed %d decided %v%% lost %vs, want 40, 0, 0.4s; rejected for %v, failed for %v\n%s", sum.Failed, sum.DecidedPct, sum.ArrivalsLostS, sum.RejectedReasons, sum.FailedReasons, stderr)
	}
	// 40 arrivals 10 ms apart take at least 390 ms, however fast each verification is.
	if sum.ElapsedMs < 390 {
		t.Errorf("open loop of 40 at 100/s took %vms", sum.ElapsedMs)
	}
	ocr, live := sum.Services[kyc.KeyOCR], sum.Services[kyc.KeyLiveness]
	if ocr.ReachedSource != "stub" || ocr.Reached+ocr.Rejections != ocr.Attempts || ocr.Reached == 0 {
		t.Errorf("ocr: reached (at the stub) + rejected locally != attempts: %+v\n%v", ocr, sum.FailedReasons)
	}
	if live.Reached != 40 || live.ReachedPerCall != 1 {
		t.Errorf("liveness (healthy) reached %d, %v per call; want 40, 1: %+v", live.Reached, live.ReachedPerCall, sum)
	}
}

// TestRateShedsPastInFlightBound: arrivals that find -max-in-flight verifications running are
// shed, counted apart and as lost.
func TestRateShedsPastInFlightBound(t *testing.T) {
	sum, _, _ := runJSON(t, "-rate", "1000", "-n", "30", "-max-in-flight", "1", "-fail", "", "-latency", "100ms")
	if sum.MaxInFlight != 1 || sum.Shed == 0 || sum.Total+sum.Shed != 30 {
		t.Errorf("max in flight %d, shed %d, total %d", sum.MaxInFlight, sum.Shed, sum.Total)
	}
	if want := float64(sum.Failed+sum.Shed) / 1000; sum.ArrivalsLostS != math.Round(want*100)/100 {
		t.Errorf("arrivals lost %v, want %v", sum.ArrivalsLostS, want)
	}
}

func TestRateFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "-1"}, {"-rate", "NaN"}, {"-rate", "1e-300"}, {"-rate", "0.0009"}, {"-max-in-flight", "5"}, {"-rate", "10", "-concurrency", "4"},
		{"-outage", "-1s"}, {"-outage-at", "1s"}, {"-outage", "1s", "-outage-service", "nosuch"},
		{"-outage", "1s", "-ocr", "127.0.0.1:1", "-outage-service", "ocr"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); !errors.Is(err, app.ErrUsage) {
			t.Errorf("%v: err %v, want a usage error", args, err)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

// TestUnreachableDependencyNamed (issue 19 item 1): a wrong address is named at startup, in
// the logs at the default level, and in the summary, with what the transport answered.
func TestUnreachableDependencyNamed(t *testing.T) {
	addr := closedAddr(t)
	sum, _, stderr := runJSON(t, "-liveness", addr, "-n", "10", "-fail", "")
	if want := "liveness at " + addr + " cannot be reached"; !strings.Contains(stderr, want) || !strings.Contains(stderr, "connection refused") {
		t.Errorf("stderr lacks %q and connection refused:\n%s", want, stderr)
	}
	if !strings.Contains(stderr, "dependency error") {
		t.Errorf("no dependency error logged at the default level:\n%s", stderr)
	}
	last := sum.Services[kyc.KeyLiveness].LastError
	if !strings.Contains(last, "connection refused") || !strings.Contains(last, addr) || !strings.HasPrefix(last, "UNAVAILABLE") {
		t.Errorf("liveness last_error %q: want UNAVAILABLE, connection refused and %s", last, addr)
	}
	if sum.Services[kyc.KeyOCR].LastError != "" || sum.Services[kyc.KeyLiveness].ReachedSource != "client" {
		t.Errorf("healthy ocr has last error %q; liveness counted at %q", sum.Services[kyc.KeyOCR].LastError,
			sum.Services[kyc.KeyLiveness].ReachedSource)
	}
}

// TestInterruptedBatch (item 4): cancelling the command's context mid-batch prints a summary
// marked interrupted, with the cancelled verifications apart from the failed ones, and
// returns ErrInterrupted, which main turns into exit status 130.
func TestInterruptedBatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(700*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-json", "-rate", "20", "-n", "1000", "-fail", "", "-latency", "30ms", "-spike-rate", "0"}, &stdout, &stderr)
	if !errors.Is(err, app.ErrInterrupted) || exitCode(err) != 130 {
		t.Fatalf("err %v (exit %d), want ErrInterrupted and 130\n%s", err, exitCode(err), stderr.String())
	}
	var sum kyc.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.NotStarted == 0 || sum.Failed != 0 || sum.Total+sum.NotStarted != 1000 {
		t.Errorf("interrupted %v, not started %d, failed %d, total %d", sum.Interrupted, sum.NotStarted, sum.Failed, sum.Total)
	}
	for k := range sum.FailedReasons {
		t.Errorf("cancelled verifications counted as failed: %s", k)
	}
	var table bytes.Buffer
	if err := sum.WriteTable(&table); err != nil || !strings.HasPrefix(table.String(), "INTERRUPTED") {
		t.Errorf("table does not start with INTERRUPTED:\n%s", table.String())
	}
}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0}, {flag.ErrHelp, 0}, {fmt.Errorf("%w: x", app.ErrUsage), 2}, {app.ErrInterrupted, 130}, {errors.New("boom"), 1},
	} {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// TestFlagErrorIsOneLine (item 7): a bad flag prints its error and a hint, not the usage.
func TestFlagErrorIsOneLine(t *testing.T) {
	for _, args := range [][]string{{"-nosuchflag"}, {"-n", "x"}, {"-stop-timeout", "-1s"}, {"-metrics-linger", "5s"},
		{"-spike-rate", "2"}, {"-outage", "1s", "-liveness", "a:1", "-facematch", "a:2", "-ocr", "a:3"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if lines := strings.Count(stderr.String(), "\n"); !errors.Is(err, app.ErrUsage) || lines > 2 || lines == 0 {
			t.Errorf("%v: err %v, %d lines on stderr:\n%s", args, err, lines, stderr.String())
		}
		if !strings.HasPrefix(stderr.String(), "orchestrator: ") || !strings.HasSuffix(stderr.String(), "\nRun 'orchestrator -h' for the flags.\n") {
			t.Errorf("%v: stderr %q, want one line after \"orchestrator: \" and the hint to run orchestrator -h", args, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, new(bytes.Buffer), &stderr); !errors.Is(err, flag.ErrHelp) ||
		!strings.Contains(stderr.String(), "-rate") {
		t.Errorf("-h: %v\n%s", err, stderr.String())
	}
}

// TestMetricsLinger (item 7): -metrics-linger keeps /metrics up after the batch for a last
// scrape, until it elapses or the command is interrupted.
func TestMetricsLinger(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	stderr := new(testkit.SyncBuffer)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-n", "5", "-fail", "", "-latency", "1ms", "-metrics", "127.0.0.1:0", "-metrics-linger", "1m"}, &stdout, stderr)
	}()
	re := regexp.MustCompile(`http://(\S+)/metrics`)
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			url = m[0]
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("no linger line:\n%s", stderr.String())
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), "bulwark_") || !strings.Contains(string(body), "kyc_verifications_total{decision=") ||
		!strings.Contains(stdout.String(), "verifications") {
		t.Errorf("after the batch: summary %q, metrics lack bulwark_:\n%.300s", stdout.String(), body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("interrupting the linger: %v", err)
	}
}

// TestMisspelledNamesRejected (issue 19 item 3): service and method names in -config are
// checked against the descriptors the binary links, with a did-you-mean; -external-service
// lets a service the binary does not link through.
func TestMisspelledNamesRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	yaml := "services:\n  kyc.v1.OCRServce: {profile: fast}\n  kyc.v1.LivenessService:\n    methods:\n      Chek: {profile: fast}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-config", path, "-explain"}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("misspelled names accepted: %v", err)
	}
	for _, want := range []string{`did you mean "kyc.v1.OCRService"?`, `did you mean "Check"?`, "-external-service"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	good := "services:\n  acme.v1.Billing: {profile: fast}\n  kyc.v1.LivenessService:\n    methods:\n      Check: {profile: fast}\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-config", path, "-external-service", "acme.v1.Billing", "-explain"}, &stdout, new(bytes.Buffer)); err != nil ||
		!strings.Contains(stdout.String(), "acme.v1.Billing") {
		t.Errorf("external service: %v\n%s", err, stdout.String())
	}
}

// TestREADMEListsEveryFlag (issue 19 item 7): the README's flag table names every flag -h
// prints.
func TestREADMEListsEveryFlag(t *testing.T) {
	var stderr bytes.Buffer
	_ = run(context.Background(), []string{"-h"}, new(bytes.Buffer), &stderr)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^  (-[a-z-]+)`).FindAllStringSubmatch(stderr.String(), -1)
	if len(flags) < 20 {
		t.Fatalf("only %d flags in -h:\n%s", len(flags), stderr.String())
	}
	for _, m := range flags {
		if !regexp.MustCompile("`" + m[1] + "[ `,]").Match(readme) {
			t.Errorf("README.md does not list %s", m[1])
		}
	}
}

// TestHelpPlaceholdersSayUnits: -h names each flag's value by what it is. A duration flag
// showed "-outage long" and "-metrics-linger long", and -rate "-rate second": read as a
// word to type, they hide that a duration needs a unit (5s) and that -rate takes a number.
func TestHelpPlaceholdersSayUnits(t *testing.T) {
	var stderr bytes.Buffer
	_ = run(context.Background(), []string{"-h"}, new(bytes.Buffer), &stderr)
	lines := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)(?: (\S+))?$`).FindAllStringSubmatch(stderr.String(), -1) {
		lines[m[1]] = m[2]
	}
	for _, name := range []string{"outage", "outage-at", "metrics-linger", "latency", "spike", "pushback", "stop-timeout", "log-digest"} {
		if got := lines[name]; got != "duration" {
			t.Errorf("-h shows -%s %q, want -%s duration", name, got, name)
		}
	}
	if got := lines["rate"]; got != "float" {
		t.Errorf("-h shows -rate %q, want -rate float (verifications per second)", got)
	}
}
