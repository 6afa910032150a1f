//go:build !race

// The race detector instruments every function and changes frame sizes: the stack a chain uses
// is checked without it, in make test's race-free pass.

package integration_test

import (
	"context"
	"testing"
	"time"
	"unsafe"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Stack ceilings: the caller's stack a unary chain uses before grpc's invoker. grpc's own
// client path and a chain of up to about 2.4 KB fit a fresh goroutine's first 8 KB; past about
// 2.8 KB, every call from a fresh goroutine copies its stack to 16 KB, and the collector's
// shrinking of a waiting caller's stack makes even a long-lived caller copy it back
// (BenchmarkInflight, BenchmarkStackDepth and the paired experiments in BENCHMARKS.md: about
// 2 % of a call). Measured 2026-12-02 (go1.26): the full suite 2008 B, the built-in ml profile
// 2336 B (hedging adds its frame).
const (
	maxFullSuiteStack = 2304 // suitecfg.Full + promobs
	maxBuiltinStack   = 2400 // config.Builtin()'s ml profile + promobs
)

// stackAddr returns the address of a variable in its own frame: the difference of two calls
// from different depths of one goroutine is the stack between them.
//
//go:noinline
func stackAddr() uintptr {
	var x byte
	return uintptr(unsafe.Pointer(&x))
}

// growStack uses about n KB of stack and returns, so that the goroutine's stack is big enough
// not to move during the call measured after it.
//
//go:noinline
func growStack(n int) byte {
	var pad [1024]byte
	pad[n%len(pad)] = byte(n)
	if n > 0 {
		return growStack(n-1) + pad[(n+1)%len(pad)]
	}
	return pad[0]
}

// The suite's chain keeps the stack under a call within its ceiling: a deeper chain makes calls
// from fresh goroutines copy their stack, and costs about 2 % of every call.
func TestSuiteStackUnderCall(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	for _, tc := range []struct {
		name string
		cfg  *config.Config
		max  uintptr
	}{
		{"full suite + promobs", suitecfg.Full(), maxFullSuiteStack},
		{"built-in ml profile + promobs", config.Builtin(), maxBuiltinStack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := promobs.New(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			s, err := interceptors.New(tc.cfg, interceptors.WithObserver(m), interceptors.WithBreakerRegistry(new(breaker.Registry)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			var outer, inner uintptr
			chain := s.Unary()
			probe := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				outer = stackAddr()
				return chain(ctx, method, req, reply, cc, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
					inner = stackAddr()
					return invoker(ctx, method, req, reply, cc, opts...)
				}, opts...)
			}
			client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, grpc.WithUnaryInterceptor(probe)))
			done := make(chan error)
			go func() {
				growStack(16)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err := client.Compare(ctx, &kycv1.CompareRequest{Selfie: []byte("s"), DocumentFace: []byte("f")})
				done <- err
			}()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			depth := outer - inner
			t.Logf("%s: %d B of stack before grpc's invoker", tc.name, depth)
			if depth > tc.max {
				t.Errorf("%s uses %d B of the caller's stack before grpc's invoker, want at most %d", tc.name, depth, tc.max)
			}
		})
	}
}
