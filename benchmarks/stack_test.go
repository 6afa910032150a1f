package benchmarks

import (
	"context"
	"os"
	"runtime"
	"testing"
	"unsafe"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// stackAddr returns the address of a variable in its own frame: the difference of two calls
// from different depths of one goroutine is the stack between them.
//
//go:noinline
func stackAddr() uintptr {
	var x byte
	return uintptr(unsafe.Pointer(&x))
}

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
		var outer, inner uintptr
		chain := c.Unary
		if chain == nil {
			chain = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				return invoker(ctx, method, req, reply, cc, opts...)
			}
		}
		probe := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			outer = stackAddr()
			return chain(ctx, method, req, reply, cc, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				inner = stackAddr()
				return invoker(ctx, method, req, reply, cc, opts...)
			}, opts...)
		}
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
					padFrame(20, func() {}) // grows the stack first, so that it does not move during the call
					if _, err := client.Compare(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
					depth = outer - inner
				}()
				<-done
			}
			b.ReportMetric(float64(depth), "chain-B")
		})
		_ = cc.Close()
	}
}

// padFrame uses about 1 KB of stack per level before calling f.
//
//go:noinline
func padFrame(levels int, f func()) {
	var buf [1000]byte
	buf[levels%len(buf)] = byte(levels)
	if levels > 0 {
		padFrame(levels-1, f)
	} else {
		f()
	}
	runtime.KeepAlive(buf)
}
