//go:build !race

// The race detector instruments every function and changes frame sizes: the stack a chain uses
// is checked without it, in make test's race-free pass.

package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// Stack ceilings: the caller's stack a unary chain uses before grpc's invoker. grpc's own
// client path and a chain of up to about 2.4 KB fit a fresh goroutine's first 8 KB; past about
// 2.8 KB, every call from a fresh goroutine copies its stack to 16 KB, and the collector's
// shrinking of a waiting caller's stack makes even a long-lived caller copy it back
// (BenchmarkInflight, BenchmarkStackDepth and the paired experiments in BENCHMARKS.md: about
// 2 % of a call). Measured 2026-12-02 (go1.26): the full suite 1432 B dialed with its service
// config, 2192 B without (the retry loop then makes each attempt's context), the built-in ml
// profile 2392 B (hedging adds its frame). Since promobs' chain sinks take a call that
// succeeds at once in one call (internal/fastobs), the full suite's frame under the call is the
// suite's fused one: 1496 B and 2256 B (2026-12-03).
const (
	maxFullSuiteStack = 2304 // suitecfg.Full + promobs
	maxBuiltinStack   = 2400 // config.Builtin()'s ml profile + promobs
)

// The suite's chain keeps the stack under a call within its ceiling: a deeper chain makes calls
// from fresh goroutines copy their stack, and costs about 2 % of every call.
func TestSuiteStackUnderCall(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	for _, tc := range ceilings() {
		t.Run(tc.name, func(t *testing.T) {
			s := promSuite(t, tc.cfg)
			probe, depthOf := testkit.StackProbe(s.Unary())
			opts := append([]grpc.DialOption{grpc.WithUnaryInterceptor(probe)}, serviceConfigOptions(t, s, tc.serviceConfig)...)
			client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, opts...))
			done := make(chan error)
			go func() {
				testkit.GrowStack(20, func() {}) // so that the stack does not move during the call
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				// Two calls, the second measured: a connection's first call comes before grpc
				// has the service config (the retry loop then makes the attempt's context).
				var err error
				for range 2 {
					if _, err = client.Compare(ctx, &kycv1.CompareRequest{Selfie: []byte("s"), DocumentFace: []byte("f")}); err != nil {
						break
					}
				}
				done <- err
			}()
			if err := within.Recv(t, done, "the measured calls did not return"); err != nil {
				t.Fatal(err)
			}
			depth := depthOf()
			t.Logf("%s: %d B of stack before grpc's invoker", tc.name, depth)
			if depth > tc.maxStack {
				t.Errorf("%s uses %d B of the caller's stack before grpc's invoker, want at most %d", tc.name, depth, tc.maxStack)
			}
		})
	}
}
