package bulkhead_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

func BenchmarkAcquireRelease(b *testing.B) {
	bh, _ := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 1 << 20})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := bh.Acquire(ctx); err != nil {
				b.Fatal(err)
			}
			bh.Release()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := bh.Acquire(ctx); err != nil {
					b.Error(err)
					return
				}
				bh.Release()
			}
		})
	})
}

// BenchmarkUnary compares a unary call over bufconn through the bulkhead with a raw one.
func BenchmarkUnary(b *testing.B) {
	bh, _ := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 1 << 20})
	testkit.BenchUnaryVsRaw(b, "bulkhead", bh.Unary())
}

// BenchmarkInterceptor is the interceptor's own cost, with an invoker that does nothing.
func BenchmarkInterceptor(b *testing.B) {
	bh, _ := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 1 << 20})
	ic := bh.Unary()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = ic(ctx, testkit.MethodCompare, nil, nil, nil, invoker)
		}
	})
}

// BenchmarkAdaptive compares the hot paths of the fixed and the adaptive limits: taking a free
// slot and giving it back (with a sample in adaptive mode), and the unary interceptor with an
// invoker that does nothing.
func BenchmarkAdaptive(b *testing.B) {
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ctx := context.Background()
	for _, alg := range []bulkhead.Algorithm{"", bulkhead.AlgorithmAIMD, bulkhead.AlgorithmGradient} {
		cfg := bulkhead.Config{MaxConcurrent: 1 << 20}
		name := "fixed"
		if alg != "" {
			cfg.Adaptive = bulkhead.Adaptive{Algorithm: alg, InitialLimit: 1 << 20}
			name = string(alg)
		}
		bh, _ := bulkhead.New(svc, cfg)
		b.Run("mode="+name+"/op=acquire-release", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bh.Acquire(ctx); err != nil {
					b.Fatal(err)
				}
				bh.ReleaseWith(time.Millisecond, nil)
			}
		})
		b.Run("mode="+name+"/op=acquire-release-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bh.Acquire(ctx); err != nil {
						b.Error(err)
						return
					}
					bh.ReleaseWith(time.Millisecond, nil)
				}
			})
		})
		ic := bh.Unary()
		b.Run("mode="+name+"/op=interceptor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = ic(ctx, testkit.MethodCompare, nil, nil, nil, invoker)
			}
		})
	}
}
