package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// BenchmarkContext: a call whose deadline is within the cap passes through untouched.
func BenchmarkContextUnchanged(b *testing.B) {
	p, _ := deadline.New(deadline.Config{Max: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		c, done := p.Context(ctx, testkit.MethodCompare)
		done()
		_ = c
	}
}

func BenchmarkUnary(b *testing.B) {
	srv := testkit.Start(b, &testkit.Server{})
	p, _ := deadline.New(deadline.Config{Default: 5 * time.Second, Max: time.Minute})
	raw := kycv1.NewFaceMatchServiceClient(srv.Dial(b))
	wrapped := kycv1.NewFaceMatchServiceClient(srv.Dial(b, grpc.WithUnaryInterceptor(p.Unary())))
	req := &kycv1.CompareRequest{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, bc := range []struct {
		name string
		c    kycv1.FaceMatchServiceClient
		ctx  context.Context
	}{{"raw", raw, ctx}, {"deadline-kept", wrapped, ctx}, {"deadline-default", wrapped, context.Background()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.c.Compare(bc.ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
