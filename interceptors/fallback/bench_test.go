package fallback_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// BenchmarkUnary compares a successful unary call over bufconn through the fallback with a raw
// one: on success the fallback only checks the error.
func BenchmarkUnary(b *testing.B) {
	srv := testkit.Start(b, &testkit.Server{})
	f, _ := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded))
	clients := map[string]kycv1.FaceMatchServiceClient{
		"raw":      kycv1.NewFaceMatchServiceClient(srv.Dial(b)),
		"fallback": kycv1.NewFaceMatchServiceClient(srv.Dial(b, grpc.WithUnaryInterceptor(f.Unary()))),
	}
	for _, name := range []string{"raw", "fallback"} {
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

// BenchmarkServe is the cost of replacing an error with a fixed reply.
func BenchmarkServe(b *testing.B) {
	f, _ := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded))
	down := testkit.Status(grpccodes.Unavailable, "")
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := &kycv1.CompareResponse{}
		for pb.Next() {
			if err := f.Recover(ctx, testkit.MethodCompare, nil, r, down); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
