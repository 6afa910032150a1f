package benchmarks

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafegrpc"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/timeout"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dialChains starts a server and dials it once per chain; all is closed when b ends.
func dialChains(b *testing.B) ([]Chain, []*grpc.ClientConn) {
	b.Helper()
	srv := StartServer(1)
	b.Cleanup(srv.Stop)
	return dialChainsTo(b, srv)
}

// dialChainsTo dials srv once per chain (those BENCH_CHAINS names, when set) and warms every
// connection up; the connections are closed when b ends.
func dialChainsTo(b *testing.B, srv *Server) ([]Chain, []*grpc.ClientConn) {
	b.Helper()
	chains, err := AllChains()
	if err != nil {
		b.Fatal(err)
	}
	chains = selectChains(chains, os.Getenv("BENCH_CHAINS"))
	// BENCH_ROUND rotates the order the chains are measured in, so that over several rounds no
	// chain (raw, the baseline, least of all) is always measured first.
	if r, err := strconv.Atoi(os.Getenv("BENCH_ROUND")); err == nil && r > 0 {
		k := r % len(chains)
		chains = append(chains[k:], chains[:k]...)
	}
	conns := make([]*grpc.ClientConn, len(chains))
	for i, c := range chains {
		cc, err := srv.Dial(c.DialOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cc.Close() })
		conns[i] = cc
	}
	// Warm every connection and the heap up before the first measurement, so that the chain
	// measured first (raw, the baseline) does not pay for it.
	ctx := context.Background()
	frames := NewFrames()
	for i, c := range chains {
		fm, lv := kycv1.NewFaceMatchServiceClient(conns[i]), kycv1.NewLivenessServiceClient(conns[i])
		for range warmCalls {
			if _, err := fm.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
				b.Fatalf("%s: %v", c.Name, err)
			}
			if c.NoStream == "" {
				if _, err := CallCheck(ctx, lv, frames); err != nil {
					b.Fatalf("%s: %v", c.Name, err)
				}
			}
		}
	}
	return chains, conns
}

// selectChains keeps the chains named in list (comma-separated; empty keeps all), so that a
// process can measure one chain alone (the per-process layout of make report) without dialing
// and warming the others.
func selectChains(chains []Chain, list string) []Chain {
	if list == "" {
		return chains
	}
	want := strings.Split(list, ",")
	var out []Chain
	for _, c := range chains {
		if slices.Contains(want, c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// warmCalls is how many calls of each kind warm each connection up.
const warmCalls = 500

// BenchmarkUnary measures one successful FaceMatchService.Compare over bufconn through each
// chain; chain=raw is the call without interceptors, measured in the same run.
func BenchmarkUnary(b *testing.B) {
	chains, conns := dialChains(b)
	ctx := context.Background()
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	for i, c := range chains {
		client := kycv1.NewFaceMatchServiceClient(conns[i])
		if _, err := client.Compare(ctx, req); err != nil { // connect and warm up
			b.Fatalf("%s: %v", c.Name, err)
		}
		b.Run("chain="+c.Name+"/mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Compare(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("chain="+c.Name+"/mode=parallel", func(b *testing.B) {
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

// BenchmarkStream measures one successful LivenessService.Check (StreamFrames frames sent, one
// reply) through each chain that can make it.
func BenchmarkStream(b *testing.B) {
	chains, conns := dialChains(b)
	ctx := context.Background()
	frames := NewFrames()
	for i, c := range chains {
		if c.NoStream != "" {
			continue
		}
		client := kycv1.NewLivenessServiceClient(conns[i])
		if _, err := CallCheck(ctx, client, frames); err != nil {
			b.Fatalf("%s: %v", c.Name, err)
		}
		b.Run("chain="+c.Name+"/mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CallCheck(ctx, client, frames); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("chain="+c.Name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := CallCheck(ctx, client, frames); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRejected measures a unary call refused by an open breaker before it leaves the
// client: the suite (BenchConfig, breaker tripped by failures), the breaker interceptor alone,
// and failsafe-go's chain with its circuit breaker opened.
func BenchmarkRejected(b *testing.B) {
	srv := StartServer(1)
	b.Cleanup(srv.Stop)

	reg := new(breaker.Registry)
	suite, err := interceptors.New(BenchConfig(), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		b.Fatal(err)
	}
	br, ok := reg.Lookup(ServiceFaceMatch)
	if !ok {
		b.Fatal("suite has no FaceMatch breaker")
	}
	alone, err := breaker.New(ServiceFaceMatch, MLBreaker(1))
	if err != nil {
		b.Fatal(err)
	}
	for _, x := range []*breaker.Breaker{br, alone} {
		for x.State() == breaker.Closed {
			p, _ := x.Allow()
			p.Done(status.Error(grpccodes.Unavailable, "down"))
		}
	}
	fcb := circuitbreaker.NewBuilder[any]().WithFailureThreshold(5).WithDelay(time.Hour).Build()
	fcb.Open()
	fs := failsafegrpc.NewUnaryClientInterceptor[any](
		timeout.New[any](5*time.Second),
		failsafegrpc.NewRetryPolicyBuilder[any]().WithMaxAttempts(4).WithBackoff(time.Second, 20*time.Second).Build(),
		fcb, ratelimiter.NewBursty[any](1e9, time.Second), fsbulkhead.New[any](1024))

	ctx := context.Background()
	req := &kycv1.CompareRequest{}
	for _, c := range []Chain{
		{Name: "suite", Unary: suite.Unary()},
		{Name: "breaker", Unary: alone.Unary()},
		{Name: "failsafe", Unary: fs},
	} {
		cc, err := srv.Dial(c.DialOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cc.Close() })
		client := kycv1.NewFaceMatchServiceClient(cc)
		b.Run("chain="+c.Name+"/mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Compare(ctx, req); err == nil {
					b.Fatal("call admitted by an open breaker")
				}
			}
		})
		b.Run("chain="+c.Name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = client.Compare(ctx, req)
				}
			})
		})
	}
	if n := srv.Requests(); n != 0 {
		b.Errorf("%d requests reached the server through open breakers", n)
	}
}
