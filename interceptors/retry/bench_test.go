package retry

import (
	"context"
	"fmt"
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
			var sc schedule
			now := time.Unix(0, 0)
			for b.Loop() {
				d, upper := p.backoff(sc, p.s.rand)
				d = fit(d, upper, now, now.Add(8*time.Second), 3)
				sc = sc.next(d, false)
				if sc.step == 8 {
					sc = schedule{}
				}
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

// Regression (found by the benchmarks module): with a budget, every call got a second deadline
// context and timer even when the caller's deadline already came first; a per-attempt timeout
// likewise. Neither is needed then, and a first-try success allocates nothing.
func TestNoExtraDeadlineUnderEarlierCallerDeadline(t *testing.T) {
	p, err := New(Config{Budget: 8 * time.Second, PerAttemptTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ok := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(200, func() { _ = p.Do(ctx, "/kyc.v1.OCRService/Extract", ok) }); n != 0 {
		t.Fatalf("%v allocs per call under an earlier caller deadline, want 0", n)
	}
	// Without a caller deadline the budget's own deadline is still set.
	var sawDeadline bool
	_ = p.Do(context.Background(), "/kyc.v1.OCRService/Extract", func(ctx context.Context) error {
		_, sawDeadline = ctx.Deadline()
		return nil
	})
	if !sawDeadline {
		t.Fatal("budget deadline not set on a call without one")
	}
}

// BenchmarkClientStream compares a successful LivenessService.Check (a client stream of n
// frames, one reply) made raw with the same stream through the retry stream interceptor, with
// and without a per-attempt timeout (the ml profile's 3s) and a budget: what the retry costs
// per stream (n = 1) and per message (the slope over n).
func BenchmarkClientStream(b *testing.B) {
	srv := testkit.Start(b, &testkit.Server{CheckF: func(_ int, stream kycv1.LivenessService_CheckServer) error {
		return testkit.DrainCheck(stream, 0.9)
	}})
	plain, _ := New(Config{MaxAttempts: 4})
	timed, _ := New(Config{MaxAttempts: 4, PerAttemptTimeout: 3 * time.Second, Budget: 8 * time.Second})
	clients := []struct {
		name string
		c    kycv1.LivenessServiceClient
	}{
		{"raw", kycv1.NewLivenessServiceClient(srv.Dial(b))},
		{"retry", kycv1.NewLivenessServiceClient(srv.Dial(b, grpc.WithStreamInterceptor(plain.Stream())))},
		{"retry+per-attempt-timeout", kycv1.NewLivenessServiceClient(srv.Dial(b, grpc.WithStreamInterceptor(timed.Stream())))},
	}
	ctx := context.Background()
	for _, n := range []int{1, 8, 32} {
		frames := make([]*kycv1.CheckRequest, n)
		for i := range frames {
			frames[i] = &kycv1.CheckRequest{Index: uint32(i), Image: make([]byte, 64)}
		}
		for _, c := range clients {
			b.Run(fmt.Sprintf("%s/n=%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					stream, err := c.c.Check(ctx)
					if err != nil {
						b.Fatal(err)
					}
					for _, f := range frames {
						if err := stream.Send(f); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := stream.CloseAndRecv(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
