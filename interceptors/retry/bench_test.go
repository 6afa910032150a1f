package retry

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

func BenchmarkBackoff(b *testing.B) {
	for _, j := range []Jitter{JitterNone, JitterFull, JitterEqual, JitterDecorrelated, JitterAdditive} {
		cfg := Config{Jitter: j, MaxAttempts: 10}
		if j == JitterAdditive {
			cfg.JitterAmount = time.Second
		}
		p, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(j), func(b *testing.B) {
			b.ReportAllocs()
			var prev time.Duration
			n := 0
			for b.Loop() {
				prev = p.backoff(n%8, prev, p.s.rand)
				n++
			}
		})
	}
}

// BenchmarkUnary compares a raw call with the same call through the retry interceptor. The
// policy itself allocates nothing on a first-try success; asking grpc for the trailers (to
// read grpc-retry-pushback-ms) costs the one allocation of the trailer copy grpc makes.
func BenchmarkUnary(b *testing.B) {
	srv := testkit.Start(b, &testkit.Server{})
	plain, _ := New(Config{})
	timed, _ := New(Config{PerAttemptTimeout: 5 * time.Second})
	clients := []struct {
		name string
		c    kycv1.FaceMatchServiceClient
	}{
		{"raw", kycv1.NewFaceMatchServiceClient(srv.Dial(b))},
		{"retry", kycv1.NewFaceMatchServiceClient(srv.Dial(b, grpc.WithUnaryInterceptor(plain.Unary())))},
		{"retry+per-attempt-timeout", kycv1.NewFaceMatchServiceClient(srv.Dial(b, grpc.WithUnaryInterceptor(timed.Unary())))},
	}
	req := &kycv1.CompareRequest{}
	ctx := context.Background()
	for _, c := range clients {
		b.Run(c.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.c.Compare(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.c.Compare(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkDo is the policy alone, without gRPC, on a first-try success.
func BenchmarkDo(b *testing.B) {
	p, _ := New(Config{Throttle: Throttle{MaxTokens: 10}})
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Do(ctx, testkit.MethodCompare, fn); err != nil {
			b.Fatal(err)
		}
	}
}
