//go:build !race

package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// The suite's own work on the fused path (promobs, a call that succeeds at once, its deadline
// set by the deadline step and held) allocates nothing: the invoker here does no gRPC.
func TestFusedPathAllocatesNothing(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	cfg := heldDeadlineConfig()
	m, err := promobs.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s, err := interceptors.New(cfg, interceptors.WithObserver(m), interceptors.WithBreakerRegistry(&breaker.Registry{}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	cc := srv.Dial(t, serviceConfigOptions(t, s, true)...)
	// grpc's service config reaches the connection with its first call.
	if _, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	unary := s.Unary()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	req, reply := &kycv1.CompareRequest{}, new(kycv1.CompareResponse)
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"deadline default", context.Background()},
		{"deadline within the cap", ctxWithTimeout(t, 3*time.Second)},
		{"deadline capped", ctxWithTimeout(t, time.Hour)},
	} {
		call := func() {
			if err := unary(tc.ctx, testkit.MethodCompare, req, reply, cc, invoker); err != nil {
				t.Fatal(err)
			}
		}
		call()
		if n := testing.AllocsPerRun(200, call); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, n)
		}
	}
}

func ctxWithTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
