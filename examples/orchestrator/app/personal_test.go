package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// personalConfig gives the three services two quick attempts and a breaker that opens after
// three failures, so that a few verifications meet retries, exhaustion, a breaker opening
// and local rejections.
const personalConfig = `
profiles:
  pii:
    retry:
      max_attempts: 2
      initial_backoff: 1ms
      max_backoff: 2ms
      jitter: none
    breaker:
      consecutive_failures: 3
      recovery_timeout: 1h
services:
  kyc.v1.LivenessService: {profile: pii}
  kyc.v1.FaceMatchService: {profile: pii}
  kyc.v1.OCRService: {profile: pii}
`

// personalServices serves the three KYC services on a TCP port of the loopback. Every answer
// quotes testkit.Personal in its status message, its details, a header and a trailer. Liveness
// answers Unavailable and face match Internal (failures of the dependency); OCR answers
// Unavailable until business is set, then InvalidArgument with the text of an OCR service
// that cannot read a field ("unreadable field name=..."), a business answer.
func personalServices(t *testing.T, business *atomic.Bool) string {
	t.Helper()
	quote := func(ctx context.Context) {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-applicant", testkit.Personal))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-document-number", testkit.Personal))
	}
	s := &testkit.Server{
		CheckF: func(_ int, stream kycv1.LivenessService_CheckServer) error {
			quote(stream.Context())
			for {
				if _, err := stream.Recv(); err != nil {
					break
				}
			}
			return testkit.PersonalStatus(grpccodes.Unavailable)
		},
		CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			quote(ctx)
			return nil, testkit.PersonalStatus(grpccodes.Internal)
		},
		ExtractF: func(ctx context.Context, _ int, _ *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
			quote(ctx)
			if !business.Load() {
				return nil, testkit.PersonalStatus(grpccodes.Unavailable)
			}
			st, _ := status.New(grpccodes.InvalidArgument, "unreadable field name="+testkit.Personal).WithDetails(
				&errdetails.ErrorInfo{Reason: "DOCUMENT_UNREADABLE", Domain: "ocr.example", Metadata: map[string]string{"name": testkit.Personal}},
				&errdetails.LocalizedMessage{Locale: "en-US", Message: "cannot read the name " + testkit.Personal})
			return nil, st.Err()
		},
	}
	return serveKYC(t, s)
}

// personalArgs are the flags that point the orchestrator at personalServices at addr, with
// personalConfig and every log line (debug).
func personalArgs(t *testing.T, addr string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pii.yaml")
	if err := os.WriteFile(path, []byte(personalConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"-config", path, "-log-level", "debug", "-log-digest", "0",
		"-liveness", addr, "-facematch", addr, "-ocr", addr}
}

// noPersonal reports each of texts (named by what) that carries testkit.Personal.
func noPersonal(t *testing.T, what, text string) {
	t.Helper()
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, testkit.Personal) {
			t.Errorf("%s carries personal data: %q", what, line)
		}
	}
}

// A batch against services whose every answer quotes the applicant's data: the summary, as
// JSON and as a table, and the log lines at debug level carry none of it, yet name what
// failed (the code of each dependency's last error, the business reason of a rejection).
func TestBatchOutputsLeaveOutPersonalData(t *testing.T) {
	business := new(atomic.Bool)
	business.Store(true)
	addr := personalServices(t, business)
	var stdout, stderr bytes.Buffer
	args := append(personalArgs(t, addr), "-json", "-n", "6", "-concurrency", "2")
	if err := Run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	noPersonal(t, "the JSON summary", stdout.String())
	noPersonal(t, "the logs", stderr.String())
	var sum kyc.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not the summary: %v\n%s", err, stdout.String())
	}
	var table bytes.Buffer
	if err := sum.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	noPersonal(t, "the summary table", table.String())
	if sum.Rejected != 6 || sum.RejectedReasons["ocr: DOCUMENT_UNREADABLE"] != 6 {
		t.Errorf("rejected %d, reasons %v: want 6 rejected by ocr: DOCUMENT_UNREADABLE", sum.Rejected, sum.RejectedReasons)
	}
	for key, want := range map[string]string{kyc.KeyLiveness: "UNAVAILABLE (" + addr + ")", kyc.KeyFaceMatch: "INTERNAL (" + addr + ")"} {
		if got := sum.Services[key].LastError; got != want {
			t.Errorf("%s last error %q, want %q", key, got, want)
		}
	}
	if !strings.Contains(stderr.String(), "dependency error") || !strings.Contains(stderr.String(), "retry scheduled") {
		t.Errorf("no dependency error or retry line at debug level:\n%s", stderr.String())
	}
}

// The orchestrator serving KYCService over services whose every answer quotes the applicant's
// data: the status of an undecided verification (its message, its ErrorInfo metadata and
// every detail), a rejection's response, the metrics and the logs carry none of it.
func TestServeOutputsLeaveOutPersonalData(t *testing.T) {
	business := new(atomic.Bool)
	business.Store(true)
	addr := personalServices(t, business)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := new(testkit.SyncBuffer)
	args := append(personalArgs(t, addr), "-serve", "127.0.0.1:0", "-metrics", "127.0.0.1:0")
	ran := make(chan error, 1)
	go func() { ran <- Run(ctx, args, io.Discard, stderr) }()
	serving := regexp.MustCompile(`serving kyc.v1.KYCService on (\S+)`)
	metricsAt := regexp.MustCompile(`metrics\t\{"addr": "([^"]+)"\}`)
	var kycAddr, metricsAddr string
	for deadline := time.Now().Add(30 * time.Second); kycAddr == "" || metricsAddr == ""; time.Sleep(10 * time.Millisecond) {
		if m := serving.FindStringSubmatch(stderr.String()); m != nil {
			kycAddr = m[1]
		}
		if m := metricsAt.FindStringSubmatch(stderr.String()); m != nil {
			metricsAddr = m[1]
		}
		if (kycAddr == "" || metricsAddr == "") && time.Now().After(deadline) {
			t.Fatalf("no serving or metrics line:\n%s", stderr.String())
		}
	}
	cc, err := grpc.NewClient(kycAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := kycv1.NewKYCServiceClient(cc)

	// Decided first (a business answer opens no breaker): OCR cannot read the document, and says so with the applicant's name.
	resp, err := client.Verify(ctx, kyc.Request(9, kyc.CaseGenuine))
	if err != nil || resp.GetDecision() != kycv1.Decision_DECISION_REJECTED {
		t.Fatalf("Verify: %v %v, want REJECTED", resp, err)
	}
	b, _ := protojson.Marshal(resp)
	noPersonal(t, "the rejection", string(b))

	// Undecided: every service failed. Two verifications open the breakers (3 failures each),
	// the third meets them open.
	business.Store(false)
	for i := range 3 {
		_, err := client.Verify(ctx, kyc.Request(int64(i), kyc.CaseGenuine))
		st := status.Convert(err)
		if st.Code() != grpccodes.Unavailable {
			t.Fatalf("verification %d: %v, want Unavailable", i, err)
		}
		noPersonal(t, "the status message", st.Message())
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if e, ok := d.(*errdetails.ErrorInfo); ok {
				info = e
			}
			text := fmt.Sprint(d) // an error, for a detail that does not unmarshal
			if m, ok := d.(proto.Message); ok {
				b, _ := protojson.Marshal(m)
				text = string(b)
			}
			noPersonal(t, fmt.Sprintf("status detail %T", d), text)
		}
		if info == nil || info.GetMetadata()["failed_steps"] != "liveness,facematch,ocr" {
			t.Errorf("verification %d: ErrorInfo %v, want failed_steps liveness,facematch,ocr", i, info)
		}
		for k, v := range info.GetMetadata() {
			noPersonal(t, "ErrorInfo metadata "+k, v)
		}
	}

	noPersonal(t, "the metrics", scrapeMetrics(t, metricsAddr))
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
	noPersonal(t, "the logs", stderr.String())
	for _, want := range []string{"dependency error", "retry scheduled", "breaker state changed", "call rejected"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("no %q line at debug level:\n%s", want, stderr.String())
		}
	}
}

// scrapeMetrics returns the body of http://addr/metrics.
func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	if !strings.Contains(string(b), "bulwark_") {
		t.Fatalf("scrape without bulwark metrics:\n%s", b)
	}
	return string(b)
}
