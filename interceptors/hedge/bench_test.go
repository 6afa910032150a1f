package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// BenchmarkUnary compares a fast Compare over bufconn through the hedging interceptor (the
// adaptive delay, learning as it goes) with a raw one. A call answered before the delay costs
// a cancelable context, a pooled timer's Reset and Stop, and one latency sample.
func BenchmarkUnary(b *testing.B) {
	p, err := hedge.New(hedge.Config{})
	if err != nil {
		b.Fatal(err)
	}
	testkit.BenchUnaryVsRaw(b, "hedge", p.Unary())
}

// BenchmarkInterceptor is the interceptor's own cost, with an invoker that does nothing.
func BenchmarkInterceptor(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  hedge.Config
	}{
		{"adaptive", hedge.Config{}},
		{"fixed", hedge.Config{Delay: 50 * time.Millisecond}},
	} {
		p, err := hedge.New(c.cfg)
		if err != nil {
			b.Fatal(err)
		}
		ic := p.Unary()
		invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, reply := &kycv1.CompareRequest{}, &kycv1.CompareResponse{}
				ctx := context.Background()
				for pb.Next() {
					_ = ic(ctx, testkit.MethodCompare, req, reply, nil, invoker)
				}
			})
		})
	}
}

// TestCommonPathAllocs: a call answered before the delay allocates only the cancelable
// context of attempt 1 (context.WithCancel: the context and its cancel function).
func TestCommonPathAllocs(t *testing.T) {
	p, err := hedge.New(hedge.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ic := p.Unary()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	req, reply := &kycv1.CompareRequest{}, &kycv1.CompareResponse{}
	ctx := context.Background()
	if n := testing.AllocsPerRun(500, func() { _ = ic(ctx, testkit.MethodCompare, req, reply, nil, invoker) }); n > 2 {
		t.Fatalf("%v allocs per call answered before the delay, want at most 2", n)
	}
}
