package app

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// serveGuard bounds, in real time, each wait of these tests: generous on a busy machine, and
// short of go test's timeout.
const serveGuard = 30 * time.Second

// serveKYC serves s's three KYC services on the loopback until the test ends, and returns
// the address.
func serveKYC(t *testing.T, s *testkit.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	kycv1.RegisterLivenessServiceServer(srv, s)
	kycv1.RegisterFaceMatchServiceServer(srv, s)
	kycv1.RegisterOCRServiceServer(srv, s)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-served })
	return lis.Addr().String()
}

// hangingServices serves the three KYC services on the loopback; every call closes entered
// (once), then waits for its caller to go away.
func hangingServices(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	entered := make(chan struct{})
	enter := sync.OnceFunc(func() { close(entered) })
	hang := func(ctx context.Context) error {
		enter()
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	}
	s := &testkit.Server{
		CheckF: func(_ int, stream kycv1.LivenessService_CheckServer) error { return hang(stream.Context()) },
		CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			return nil, hang(ctx)
		},
		ExtractF: func(ctx context.Context, _ int, _ *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
			return nil, hang(ctx)
		},
	}
	return serveKYC(t, s), entered
}

// startServe runs the command with args (which hold -serve) until ctx is done, and returns the
// address it serves on, a client connection to it, what Run returned (once it has) and its
// stderr.
func startServe(t *testing.T, ctx context.Context, args []string) (*grpc.ClientConn, <-chan error, *testkit.SyncBuffer) {
	t.Helper()
	stderr := new(testkit.SyncBuffer)
	ran := make(chan error, 1)
	go func() { ran <- Run(ctx, args, io.Discard, stderr) }()
	serving := regexp.MustCompile(`serving kyc.v1.KYCService on (\S+)`)
	var addr string
	for deadline := time.Now().Add(serveGuard); addr == ""; time.Sleep(10 * time.Millisecond) {
		if m := serving.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no serving line:\n%s", stderr.String())
		}
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc, ran, stderr
}

// waitRun returns what Run returned, failing the test if it has not within serveGuard.
func waitRun(t *testing.T, ran <-chan error, stderr *testkit.SyncBuffer) error {
	t.Helper()
	select {
	case err := <-ran:
		return err
	case <-time.After(serveGuard):
		t.Fatalf("Run still running %v after its context ended:\n%s", serveGuard, stderr.String())
		return nil
	}
}

// TestServeCutsCallsAfterStopTimeout: at the end of -serve, calls in flight get -stop-timeout
// to finish; a call still waiting on its dependencies then is cut (Unavailable), and the
// warn line says so.
func TestServeCutsCallsAfterStopTimeout(t *testing.T) {
	addr, entered := hangingServices(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc, ran, stderr := startServe(t, ctx, []string{"-serve", "127.0.0.1:0", "-stop-timeout", "100ms", "-log-digest", "0",
		"-liveness", addr, "-facematch", addr, "-ocr", addr})
	verified := make(chan error, 1)
	go func() {
		_, err := kycv1.NewKYCServiceClient(cc).Verify(context.Background(), kyc.Request(1, kyc.CaseGenuine))
		verified <- err
	}()
	select {
	case <-entered:
	case <-time.After(serveGuard):
		t.Fatal("the verification never reached its dependencies")
	}
	cancel()
	if err := waitRun(t, ran, stderr); err != nil {
		t.Errorf("Run: %v", err)
	}
	if !strings.Contains(stderr.String(), "graceful stop timed out; cutting calls") {
		t.Errorf("no line saying the stop cut calls after -stop-timeout 100ms:\n%s", stderr.String())
	}
	if err := <-verified; status.Code(err) != grpccodes.Unavailable {
		t.Errorf("the verification in flight: %v, want Unavailable (cut by the stop)", err)
	}
}

// TestServeStopEndsHealthWatches: a health Watch lasts as long as its client wants (gRPC's
// client-side health checking keeps one open per connection). At the end of -serve it sees
// NOT_SERVING and ends, so that it holds no graceful stop until -stop-timeout cuts the calls.
func TestServeStopEndsHealthWatches(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc, ran, stderr := startServe(t, ctx, []string{"-serve", "127.0.0.1:0", "-log-digest", "0"})
	wctx, wcancel := context.WithTimeout(context.Background(), serveGuard)
	defer wcancel()
	watch, err := healthpb.NewHealthClient(cc).Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first watch answer %v %v, want SERVING", r, err)
	}
	cancel()
	if err := waitRun(t, ran, stderr); err != nil {
		t.Errorf("Run: %v", err)
	}
	if strings.Contains(stderr.String(), "graceful stop timed out") {
		t.Errorf("a health watch held the graceful stop until -stop-timeout:\n%s", stderr.String())
	}
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("watch answer after the stop began: %v %v, want NOT_SERVING", r, err)
	}
	if _, err := watch.Recv(); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("watch after the stop: %v, want Unavailable", err)
	}
}
