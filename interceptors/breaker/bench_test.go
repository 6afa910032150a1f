package breaker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// benchConfigs are the closed-state settings the hot path is measured with.
var benchConfigs = []struct {
	name string
	cfg  Config
}{
	{"consecutive", Config{}},
	{"count_window", Config{FailureRateThreshold: 0.5, WindowSize: 100}},
	{"time_window", Config{FailureRateThreshold: 0.5, WindowType: WindowTime, WindowDuration: time.Minute}},
	{"slow_calls", Config{FailureRateThreshold: 0.5, SlowCallDuration: time.Second}},
	{"evidence", Config{ConsecutiveFailures: 20, FailureRateThreshold: 0.5, FailureRateConfidence: 0.999, WindowSize: 100, MinimumCalls: 20}},
}

func mustNew(b *testing.B, cfg Config, opts ...Option) *Breaker {
	b.Helper()
	br, err := New(svc, cfg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkAllowDone measures one admitted call on a closed breaker: Allow then Done, with the
// real clock. "atomic" is Allow (one atomic load); "mutex" admits under the breaker's mutex
// instead (allowSlow), the alternative it was measured against.
func BenchmarkAllowDone(b *testing.B) {
	for _, bc := range benchConfigs {
		br := mustNew(b, bc.cfg)
		for _, admit := range []struct {
			name  string
			allow func() (Permit, error)
		}{
			{"atomic", br.Allow},
			{"mutex", func() (Permit, error) { return br.allowSlow("") }},
		} {
			b.Run(bc.name+"/"+admit.name+"/serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p, _ := admit.allow()
					p.Done(nil)
				}
			})
			b.Run(bc.name+"/"+admit.name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						p, _ := admit.allow()
						p.Done(nil)
					}
				})
			})
		}
	}
}

// BenchmarkDoneError measures Done with a business error status, which the classifier reads
// without allocating when it has no details.
func BenchmarkDoneError(b *testing.B) {
	br := mustNew(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		p, _ := br.Allow()
		p.Done(errBiz)
	}
}

func BenchmarkExecute(b *testing.B) {
	br := mustNew(b, Config{})
	fn := func() error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Execute(fn)
	}
}

// BenchmarkReject measures a rejection by an open breaker: the *codes.Rejection is allocated.
func BenchmarkReject(b *testing.B) {
	br := mustNew(b, Config{RecoveryTimeout: time.Hour})
	for br.State() == Closed {
		p, _ := br.Allow()
		p.Done(errFail)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := br.Allow(); err == nil {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = br.Allow()
			}
		})
	})
}

// BenchmarkPrimitives reads a state word the two ways the closed-state Allow could (as grpc's
// benchmark/primitives does before anyone picks one).
func BenchmarkPrimitives(b *testing.B) {
	var (
		word  atomic.Uint64
		mu    sync.Mutex
		state uint64
	)
	b.Run("atomic_load/serial", func(b *testing.B) {
		var sink uint64
		for b.Loop() {
			sink += word.Load()
		}
		_ = sink
	})
	b.Run("atomic_load/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var sink uint64
			for pb.Next() {
				sink += word.Load()
			}
			_ = sink
		})
	})
	b.Run("mutex_read/serial", func(b *testing.B) {
		var sink uint64
		for b.Loop() {
			mu.Lock()
			sink += state
			mu.Unlock()
		}
		_ = sink
	})
	b.Run("mutex_read/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var sink uint64
			for pb.Next() {
				mu.Lock()
				sink += state
				mu.Unlock()
			}
			_ = sink
		})
	})
}

// BenchmarkUnary compares a raw unary call over bufconn with the same call through one
// breaker's interceptor and through the registry interceptor, in the same run.
func BenchmarkUnary(b *testing.B) {
	srv := testkit.Start(b, &testkit.Server{})
	br := mustNew(b, Config{})
	reg := new(Registry)
	regIC, err := UnaryClientInterceptor(Config{}, WithRegistry(reg))
	if err != nil {
		b.Fatal(err)
	}
	conns := []struct {
		name string
		opts []grpc.DialOption
	}{
		{"raw", nil},
		{"breaker", []grpc.DialOption{grpc.WithUnaryInterceptor(br.Unary())}},
		{"registry", []grpc.DialOption{grpc.WithUnaryInterceptor(regIC)}},
	}
	req := &kycv1.CompareRequest{}
	for _, c := range conns {
		client := kycv1.NewFaceMatchServiceClient(srv.Dial(b, c.opts...))
		ctx := context.Background()
		if _, err := client.Compare(ctx, req); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Compare(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.Compare(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
