package benchmarks

import (
	"context"
	"os"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// BenchmarkStackDepth measures how much of the caller's goroutine stack a chain's unary
// interceptor uses before it calls grpc's invoker: the stack the chain adds to every call, on
// top of grpc's own. It matters when calls run on fresh goroutines (a server handler calling
// out): a goroutine starts with 8 KB and copies its stack to twice the size when a call needs
// more. The chain runs under an outer interceptor that notes a stack address, with an invoker
// that notes another; their difference is exact (the stack is not moved between the two: the
// call is made from a goroutine whose stack was grown first). It reports chain-B; raw's is
// the frame of the pass-through interceptor that stands for no chain.
func BenchmarkStackDepth(b *testing.B) {
	srv := StartServer(1)
	b.Cleanup(srv.Stop)
	chains, err := AllChains()
	if err != nil {
		b.Fatal(err)
	}
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	for _, c := range selectChains(chains, os.Getenv("BENCH_CHAINS")) {
		probe, depthOf := testkit.StackProbe(c.Unary)
		cc, err := srv.Dial(grpc.WithUnaryInterceptor(probe))
		if err != nil {
			b.Fatal(err)
		}
		client := kycv1.NewFaceMatchServiceClient(cc)
		b.Run("chain="+c.Name, func(b *testing.B) {
			var depth uintptr
			for b.Loop() {
				done := make(chan struct{})
				go func() {
					defer close(done)
					testkit.GrowStack(20, func() {}) // grows the stack first, so that it does not move during the call
					if _, err := client.Compare(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
					depth = depthOf()
				}()
				<-done
			}
			b.ReportMetric(float64(depth), "chain-B")
		})
		_ = cc.Close()
	}
}
