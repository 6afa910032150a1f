package fallback_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
)

// BenchmarkUnary compares a successful unary call over bufconn through the fallback with a raw
// one: on success the fallback only checks the error.
func BenchmarkUnary(b *testing.B) {
	f, _ := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded))
	testkit.BenchUnaryVsRaw(b, "fallback", f.Unary())
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
