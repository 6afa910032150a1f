package stub

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a started stub and a client connection to it.
type env struct {
	s    *Stub
	conn *grpc.ClientConn
	live kycv1.LivenessServiceClient
	face kycv1.FaceMatchServiceClient
	ocr  kycv1.OCRServiceClient
}

// start starts a stub on 127.0.0.1:0 and dials it; both end with the test.
func start(t *testing.T, cfg Config, opts ...Option) *env {
	t.Helper()
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 2 * time.Second
	}
	s, err := Start(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return connect(t, s)
}

// connect dials s; the connection closes and s stops when the test ends.
func connect(t *testing.T, s *Stub) *env {
	t.Helper()
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.Stop()
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		s.Stop()
	})
	return &env{
		s:    s,
		conn: conn,
		live: kycv1.NewLivenessServiceClient(conn),
		face: kycv1.NewFaceMatchServiceClient(conn),
		ocr:  kycv1.NewOCRServiceClient(conn),
	}
}

// check streams frames to Liveness.Check and returns its answer.
func check(ctx context.Context, c kycv1.LivenessServiceClient, frames [][]byte) (*kycv1.CheckResponse, error) {
	stream, err := c.Check(ctx)
	if err != nil {
		return nil, err
	}
	for i, f := range frames {
		if err := stream.Send(&kycv1.CheckRequest{Index: uint32(i), Image: f}); err != nil {
			if errors.Is(err, io.EOF) {
				break // the server answered early; CloseAndRecv has its status
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

// extract calls OCR.Extract on a readable document of seed 1.
func (e *env) extract(ctx context.Context) error {
	_, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: DocumentImage(1, false)})
	return err
}

// errorInfo returns the ErrorInfo detail of err, or nil.
func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	return nil
}

// retryInfo returns the RetryInfo detail of err, or nil.
func retryInfo(err error) *errdetails.RetryInfo {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri
		}
	}
	return nil
}

// eventually fails the test unless cond holds within 5s (real time); for effects of timers
// that fire in their own goroutine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitGuard bounds, in real time, a wait of a test on the fake clock: generous on a busy
// machine, yet short of go test's timeout, so that code which never starts the sleep a test
// waits for (a mutant of a delay rule) fails the test with a message instead of hanging it.
const waitGuard = 30 * time.Second

// blockUntil is fake.BlockUntil(n) bounded by waitGuard: it returns once at least n timers of
// fake are waiting, and fails the test if they are not within waitGuard.
func blockUntil(t *testing.T, fake interface{ Timers() int }, n int) {
	t.Helper()
	deadline := time.Now().Add(waitGuard)
	for fake.Timers() < n {
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d fake-clock timers wait, want %d: the code under test never started its sleep", waitGuard, fake.Timers(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
