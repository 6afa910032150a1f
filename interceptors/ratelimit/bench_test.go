package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
)

// BenchmarkTake measures taking a free token from Local against x/time/rate's AllowN, whose
// answers Local gives (local_rate_test.go): Local reads the monotonic clock alone (clock.Since)
// and takes the token with a compare-and-swap; x/time/rate is given time.Now() and locks.
func BenchmarkTake(b *testing.B) {
	ctx := context.Background()
	l := ratelimit.NewLocal(1e9, 1e9)
	x := rate.NewLimiter(1e9, 1e9)
	b.Run("local/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d, _ := l.Take(ctx, 0); !d.Allowed {
				b.Fatal("refused")
			}
		}
	})
	b.Run("local/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = l.Take(ctx, 0)
			}
		})
	})
	b.Run("xrate/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x.AllowN(time.Now(), 1)
		}
	})
	b.Run("xrate/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				x.AllowN(time.Now(), 1)
			}
		})
	})
	p, _ := ratelimit.New("kyc.v1.OCRService", l, ratelimit.Config{})
	b.Run("policy/enterat", func(b *testing.B) {
		// A suite's path: the runner's reading of the clock, a nanosecond (a token) apart.
		now := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(1)
			if _, err := p.EnterAt(ctx, "/kyc.v1.OCRService/Extract", nil, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("policy/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Allow(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkUnary compares a unary call over bufconn through the limiter with a raw one.
func BenchmarkUnary(b *testing.B) {
	p, _ := ratelimit.New(svc, nil, ratelimit.Config{Rate: 1e9, Burst: 1e9})
	testkit.BenchUnaryVsRaw(b, "ratelimit", p.Unary())
}

// BenchmarkInterceptor is the interceptor's own cost, with an invoker that does nothing.
func BenchmarkInterceptor(b *testing.B) {
	p, _ := ratelimit.New(svc, nil, ratelimit.Config{Rate: 1e9, Burst: 1e9})
	ic := p.Unary()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = ic(ctx, testkit.MethodCompare, nil, nil, nil, invoker)
		}
	})
}
