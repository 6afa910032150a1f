package testkit

import (
	"context"
	"testing"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// BenchUnaryVsRaw benchmarks a successful FaceMatchService.Compare over bufconn, in parallel,
// twice in the same run: as a raw call (sub-benchmark "raw") and through ic (sub-benchmark
// name), so that the two can be read as a ratio.
func BenchUnaryVsRaw(b *testing.B, name string, ic grpc.UnaryClientInterceptor) {
	srv := Start(b, &Server{})
	clients := []struct {
		name   string
		client kycv1.FaceMatchServiceClient
	}{
		{"raw", kycv1.NewFaceMatchServiceClient(srv.Dial(b))},
		{name, kycv1.NewFaceMatchServiceClient(srv.Dial(b, grpc.WithUnaryInterceptor(ic)))},
	}
	req := &kycv1.CompareRequest{}
	for _, c := range clients {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.client.Compare(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
