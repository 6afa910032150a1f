package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/app"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestBatchJSON runs the command's batch mode with -json against its embedded stubs and
// checks every documented key of the summary.
func TestBatchJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-json", "-n", "30", "-concurrency", "6", "-fail", "unavailable=0.1", "-latency", "2ms",
		"-spike-rate", "0", "-unreadable-rate", "0.2", "-seed", "3", "-config", writeConfig(t, quickRetries)}
	if err := app.Run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	for _, k := range []string{"total", "approved", "rejected", "failed", "rejected_reasons", "p50_ms", "p99_ms", "max_ms", "services"} {
		if _, ok := got[k]; !ok {
			t.Errorf("summary lacks %q: %s", k, stdout.String())
		}
	}
	var sum kyc.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Total != 30 || sum.Approved+sum.Rejected+sum.Failed != 30 {
		t.Errorf("counts: %+v", sum)
	}
	if sum.RejectedReasons["ocr: DOCUMENT_UNREADABLE"] == 0 {
		t.Errorf("no DOCUMENT_UNREADABLE among %v at a 0.2 unreadable rate", sum.RejectedReasons)
	}
	if !(0 < sum.P50Ms && sum.P50Ms <= sum.P99Ms && sum.P99Ms <= sum.MaxMs && sum.MaxMs < 8000) {
		t.Errorf("latencies p50 %v p99 %v max %v", sum.P50Ms, sum.P99Ms, sum.MaxMs)
	}
	services, _ := got["services"].(map[string]any)
	retries := 0.0
	for _, svc := range []string{"liveness", "facematch", "ocr"} {
		s, ok := services[svc].(map[string]any)
		if !ok {
			t.Errorf("services lacks %q: %s", svc, stdout.String())
			continue
		}
		n := map[string]float64{}
		for _, k := range []string{"calls", "attempts", "retries", "breaker_opens", "rejections"} {
			v, ok := s[k].(float64) // a missing or mistyped count is reported, not a panic
			if !ok {
				t.Errorf("services.%s.%s = %#v, want a number", svc, k, s[k])
			}
			n[k] = v
		}
		if n["calls"] != 30 {
			t.Errorf("services.%s.calls = %v, want 30", svc, s["calls"])
		}
		if n["attempts"] != n["calls"]+n["retries"] {
			t.Errorf("services.%s: attempts %v != calls %v + retries %v", svc, s["attempts"], s["calls"], s["retries"])
		}
		retries += n["retries"]
	}
	if retries == 0 {
		t.Errorf("no retries at a 10%% fault rate: %s", stdout.String())
	}
}

// TestBatchTable runs the default output: a table on stdout, no progress bar when stderr is
// not a terminal, and no warning about the built-in profiles (TestLogNoise checks there is
// none at info either, and that a user profile that does not fit is warned about).
// Stderr is a file, as os.Stderr redirected is: the bar is drawn on an *os.File that is a
// terminal, and any other writer never is one.
func TestBatchTable(t *testing.T) {
	var stdout bytes.Buffer
	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	args := []string{"-n", "10", "-fail", "unavailable=0", "-latency", "1ms", "-spike-rate", "0"}
	runErr := app.Run(context.Background(), args, &stdout, errFile)
	errBytes, err := os.ReadFile(errFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	stderr := bytes.NewBuffer(errBytes)
	if runErr != nil {
		t.Fatalf("run: %v\n%s", runErr, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"verifications  10", "approved", "rejected", "failed", "latency", "liveness", "facematch", "ocr", "breaker opens"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The built-in ml profile's fitted schedule fits the budget: no warning on a default run
	// (issue 15).
	if strings.Contains(stderr.String(), "warning:") {
		t.Errorf("a default run warns:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress bar drawn on a non-terminal stderr")
	}
}

// TestServe runs -serve: KYCService.Verify answers over gRPC, health says SERVING, and
// cancelling the context (SIGINT in main) stops the server gracefully.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testkit.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"-serve", "127.0.0.1:0", "-fail", "unavailable=0", "-latency", "1ms", "-spike-rate", "0"}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`serving kyc.v1.KYCService on (\S+)`)
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == ""; time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("server never said where it listens:\n%s", stderr.String())
		}
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	hr, err := healthpb.NewHealthClient(cc).Check(cctx, &healthpb.HealthCheckRequest{Service: "kyc.v1.KYCService"})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v, %v", hr, err)
	}
	client := kycv1.NewKYCServiceClient(cc)
	for _, tc := range []struct {
		c    kyc.Case
		want kycv1.Decision
	}{{kyc.CaseGenuine, kycv1.Decision_DECISION_APPROVED}, {kyc.CaseSpoof, kycv1.Decision_DECISION_REJECTED}} {
		resp, err := client.Verify(cctx, kyc.Request(5, tc.c))
		if err != nil || resp.GetDecision() != tc.want || len(resp.GetSteps()) != 3 || resp.GetVerificationId() != "v-5" {
			t.Errorf("Verify case %d: %v, %v", tc.c, resp, err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
}

// startServe runs the command with -serve on a free port and args, and returns the address it
// serves on and a channel that gets Run's result.
func startServe(t *testing.T, ctx context.Context, args ...string) (string, <-chan error) {
	t.Helper()
	var stdout, stderr testkit.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, append([]string{"-serve", "127.0.0.1:0"}, args...), &stdout, &stderr)
	}()
	re := regexp.MustCompile(`serving kyc.v1.KYCService on (\S+)`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], done
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never said where it listens:\n%s", stderr.String())
		}
	}
}

// TestServeUndecidedIsAnError (issue 19 item 2): a verification that could not be decided
// (OCR is down) is a retryable Unavailable with RetryInfo and an ErrorInfo naming the failed
// step, not an OK; a rejection is still OK; the whole service stays SERVING while the OCR
// dependency's own health entry turns NOT_SERVING once its breaker opens.
func TestServeUndecidedIsAnError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// quickRetries: with the built-in backoffs (a second and more) the OCR breaker took about
	// 20s of retried verifications to open.
	addr, done := startServe(t, ctx, "-fail", "", "-latency", "1ms", "-spike-rate", "0", "-outage", "1h", "-outage-service", "ocr",
		"-config", writeConfig(t, quickRetries))
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := kycv1.NewKYCServiceClient(cc)
	cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
	defer ccancel()

	resp, err := client.Verify(cctx, kyc.Request(7, kyc.CaseSpoof))
	if err != nil || resp.GetDecision() != kycv1.Decision_DECISION_REJECTED {
		t.Errorf("spoof with OCR down: %v, %v; want OK REJECTED", resp, err)
	}
	_, err = client.Verify(cctx, kyc.Request(8, kyc.CaseGenuine))
	st := status.Convert(err)
	if st.Code() != grpccodes.Unavailable {
		t.Fatalf("genuine with OCR down: %v, want Unavailable", err)
	}
	var info *errdetails.ErrorInfo
	var retryInfo *errdetails.RetryInfo
	var inner *kycv1.VerifyResponse
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			retryInfo = d
		case *kycv1.VerifyResponse:
			inner = d
		}
	}
	if info.GetReason() != kyc.ReasonUndecided || info.GetMetadata()["failed_steps"] != "ocr" ||
		!strings.HasPrefix(info.GetMetadata()["ocr"], "UNAVAILABLE") {
		t.Errorf("ErrorInfo %v: want reason %s naming the ocr step", info, kyc.ReasonUndecided)
	}
	if retryInfo.GetRetryDelay().AsDuration() <= 0 || inner.GetDecision() != kycv1.Decision_DECISION_FAILED {
		t.Errorf("RetryInfo %v, response detail %v", retryInfo, inner)
	}

	health := healthpb.NewHealthClient(cc)
	opened := false
	for i := 0; i < 40 && !opened; i++ {
		_, _ = client.Verify(cctx, kyc.Request(int64(100+i), kyc.CaseGenuine))
		hr, err := health.Check(cctx, &healthpb.HealthCheckRequest{Service: "kyc.v1.OCRService"})
		opened = err == nil && hr.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
		if !opened {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !opened {
		t.Error("the OCR dependency's health entry never turned NOT_SERVING")
	}
	for _, svc := range []string{"", "kyc.v1.KYCService", "kyc.v1.LivenessService"} {
		hr, err := health.Check(cctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v, %v; want SERVING", svc, hr, err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop within 10s of its context's cancel")
	}
}

// TestLogNoise (issue 19 item 5): at the default level a faulty run logs no line per retry or
// rejection, but a digest and the breaker's state changes; -log-level debug brings the
// per-event lines back; a profile that does not fit the budget is warned about once.
func TestLogNoise(t *testing.T) {
	args := []string{"-n", "40", "-concurrency", "8", "-fail", "unavailable=0.3", "-latency", "1ms", "-spike-rate", "0",
		"-config", writeConfig(t, quickRetries)}
	var stdout, stderr bytes.Buffer
	if err := app.Run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, quiet := range []string{"retry scheduled", "call rejected", "retries exhausted"} {
		if strings.Contains(stderr.String(), quiet) {
			t.Errorf("%q logged at the default level:\n%s", quiet, stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), "WARN\tdigest") {
		t.Errorf("no digest at the default level:\n%s", stderr.String())
	}
	// The breaker's state changes stay at the default level. At 30% the run above opens no
	// breaker; an OCR outage opens its breaker within the first verifications.
	stderr.Reset()
	outage := append(args[:len(args):len(args)], "-outage", "1h", "-outage-service", "ocr")
	if err := app.Run(context.Background(), outage, new(bytes.Buffer), &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "WARN\tbreaker state changed") || strings.Contains(stderr.String(), "retry scheduled") {
		t.Errorf("an OCR outage at the default level: want the breaker's state changes and no per-retry line:\n%s", stderr.String())
	}
	stderr.Reset()
	if err := app.Run(context.Background(), append(args, "-log-level", "debug"), new(bytes.Buffer), &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "retry scheduled") {
		t.Errorf("no per-retry line at debug")
	}
	// The built-in profiles fit the budget (issue 15): no warning at any level. A user's
	// profile that does not fit is warned about once, at the default level.
	stderr.Reset()
	if err := app.Run(context.Background(), []string{"-n", "2", "-log-level", "info", "-latency", "1ms"}, new(bytes.Buffer), &stderr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "warning:") {
		t.Errorf("the built-in profiles warn at info:\n%s", stderr.String())
	}
	stderr.Reset()
	slow := writeConfig(t, "profiles:\n  slow:\n    retry: {max_attempts: 5, initial_backoff: 3s, max_backoff: 10s, per_attempt_timeout: 3s}\nservices:\n  kyc.v1.OCRService: {profile: slow}\n")
	if err := app.Run(context.Background(), []string{"-n", "2", "-latency", "1ms", "-config", slow}, new(bytes.Buffer), &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stderr.String(), "warning: "+slow+":2: profiles.slow: worst case"); n != 1 {
		t.Errorf("a user profile's warning printed %d times at the default level, want once:\n%s", n, stderr.String())
	}
}
