package bulkhead_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
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
	srv := testkit.Start(b, &testkit.Server{})
	bh, _ := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 1 << 20})
	clients := map[string]kycv1.FaceMatchServiceClient{
		"raw":      kycv1.NewFaceMatchServiceClient(srv.Dial(b)),
		"bulkhead": kycv1.NewFaceMatchServiceClient(srv.Dial(b, grpc.WithUnaryInterceptor(bh.Unary()))),
	}
	for _, name := range []string{"raw", "bulkhead"} {
		client := clients[name]
		req := &kycv1.CompareRequest{}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.Compare(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
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
