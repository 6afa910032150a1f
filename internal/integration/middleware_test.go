package integration_test

import (
	"context"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
)

// The suite chained after go-grpc-middleware's logging interceptor: the logger sees one
// finished logical call while the suite retries underneath it (three attempts reach the server).
func TestWorksBesideMiddlewareLogging(t *testing.T) {
	var mu sync.Mutex
	var logged []string
	logger := logging.LoggerFunc(func(_ context.Context, _ logging.Level, msg string, _ ...any) {
		mu.Lock()
		logged = append(logged, msg)
		mu.Unlock()
	})
	srv := &testkit.Server{CompareF: testkit.FailFirst(2, unavailable())}
	testkit.Start(t, srv)
	cfg := &config.Config{Services: map[string]config.Service{svcFaceMatch: {Profile: "ml"}},
		Profiles: map[string]config.Profile{"ml": {Retry: quickRetry(4)}}}
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(&breaker.Registry{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cc := srv.Dial(t,
		grpc.WithChainUnaryInterceptor(logging.UnaryClientInterceptor(logger, logging.WithLogOnEvents(logging.FinishCall)), s.Unary()),
		grpc.WithChainStreamInterceptor(logging.StreamClientInterceptor(logger, logging.WithLogOnEvents(logging.FinishCall)), s.Stream()))
	if _, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("call failed: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 1 {
		t.Fatalf("middleware logged %d finished calls, want 1 logical call: %v", len(logged), logged)
	}
	if srv.Calls(testkit.MethodCompare) != 3 {
		t.Fatalf("server saw %d attempts, want 3", srv.Calls(testkit.MethodCompare))
	}
}
