package benchmarks

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// serialCompare is a serial benchmark of client's Compare, every call with a 10 s caller
// deadline (callerDeadline), reporting allocations and the process's CPU time per call.
func serialCompare(client kycv1.FaceMatchServiceClient, req *kycv1.CompareRequest) func(*testing.B) {
	return func(b *testing.B) {
		var dl callerDeadline
		defer dl.stop()
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			if _, err := client.Compare(dl.next(), req); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	}
}

// BenchmarkUnaryDL is the headline: one successful FaceMatchService.Compare over bufconn
// through each chain, every call with a fresh 10 s caller deadline (the fair case: every real
// call carries one, and then grpc-go's cost of sending a deadline is in the raw call too; fresh,
// so that raw's grpc-timeout repeats as a chain's own deadline does: see callerDeadline).
// mode=serial is one caller; mode=parallel is b.RunParallel (run with -cpu 1,2 for the
// scaling). BenchmarkUnary is the same without a caller deadline.
func BenchmarkUnaryDL(b *testing.B) {
	chains, conns := dialChains(b)
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	for i, c := range chains {
		client := kycv1.NewFaceMatchServiceClient(conns[i])
		b.Run("chain="+c.Name+"/mode=serial", serialCompare(client, req))
		b.Run("chain="+c.Name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			defer cpu.report(b)
			b.RunParallel(func(pb *testing.PB) {
				var dl callerDeadline
				defer dl.stop()
				for pb.Next() {
					if _, err := client.Compare(dl.next(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// servicesConfig is BenchConfig with n services configured in all: the two the server has,
// and n-2 more (bench.v1.SvcNNNNN, one configured method each). n below 2 configures
// FaceMatchService alone. It returns the extra methods, for the warm-up to call.
func servicesConfig(n int) (*config.Config, []string) {
	cfg := BenchConfig()
	if n < 2 {
		delete(cfg.Services, ServiceLiveness)
	}
	var extra []string
	for i := 2; i < n; i++ {
		svc := fmt.Sprintf("bench.v1.Svc%05d", i)
		cfg.Services[svc] = config.Service{Profile: "bench", Methods: map[string]config.Method{"Call": {}}}
		extra = append(extra, "/"+svc+"/Call")
	}
	return cfg, extra
}

// methodsConfig is BenchConfig with FaceMatchService alone, with n methods configured in all:
// Compare and n-1 more (MNNNNN, each with a retry setting of its own, so that each has a chain
// and policy objects of its own). It returns the extra methods, for the warm-up to call.
func methodsConfig(n int) (*config.Config, []string) {
	cfg := BenchConfig()
	delete(cfg.Services, ServiceLiveness)
	svc := cfg.Services[ServiceFaceMatch]
	svc.Methods = map[string]config.Method{"Compare": {}}
	var extra []string
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("M%05d", i)
		svc.Methods[name] = config.Method{Overrides: config.Overrides{
			Retry: config.Set(retry.Config{MaxAttempts: 2 + i%3}, "max_attempts")}}
		extra = append(extra, "/"+ServiceFaceMatch+"/"+name)
	}
	cfg.Services[ServiceFaceMatch] = svc
	return cfg, extra
}

// configuredSuite is the suite of BenchConfig + promobs with n methods (kind "methods") or n
// services (kind "services") configured, and the extra methods to call once before measuring
// (see methodsConfig and servicesConfig).
func configuredSuite(b *testing.B, kind string, n int) (*interceptors.Suite, []string) {
	b.Helper()
	cfg, extra := methodsConfig(n)
	if kind == "services" {
		cfg, extra = servicesConfig(n)
	}
	m, err := promobs.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(new(breaker.Registry)), interceptors.WithObserver(m))
	if err != nil {
		b.Fatal(err)
	}
	return s, extra
}

// BenchmarkMethods measures the suite (BenchConfig + promobs, caller deadline, dialed with its
// service config) on one method while 1, 100 or 10 000 methods (of the called service:
// configured=methods) or services (configured=services) are configured and every one of them
// has been called once, against the raw call in the same run: the per-call cost must not grow
// with the configuration.
//
// With 10 000 services the live heap is hundreds of megabytes and a collection comes only
// every few tens of thousands of calls, so whether a run of 10 000 calls pays for a whole one
// is a matter of phase (testing collects before each run): measured at GOGC 100, the suite's
// 7 % more bytes per call took its run over a collection that raw's run stayed under, +16 µs
// a call over raw against +7 µs with one service; with the collector off the two were +6.6
// and +6.8 µs. Timing with the collector off is no cure (the heap then grows by the run's
// allocation, and fresh pages slowed each later run: 27 → 41 µs for raw), so those rows carry
// that luck; BenchmarkSuiteOwnConfigured measures the suite's own work against the size
// without it. The bytes allocated per call (B/op, exact) are the same for every size, so the
// collector's cost per call does not grow with it either.
func BenchmarkMethods(b *testing.B) {
	srv := StartServer(1)
	b.Cleanup(srv.Stop)
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	for _, kind := range []string{"methods", "services"} {
		for _, n := range []int{1, 100, 10000} {
			s, extra := configuredSuite(b, kind, n)
			so, err := s.ServiceConfigOption("")
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range []Chain{{Name: "raw"}, {Name: "suite", Unary: s.Unary(), Dial: []grpc.DialOption{so}}} {
				cc, err := srv.Dial(c.DialOptions()...)
				if err != nil {
					b.Fatal(err)
				}
				client := kycv1.NewFaceMatchServiceClient(cc)
				// The measured method first, so that it keeps a method label of its own (see
				// BenchmarkSuiteOwnConfigured); then every configured method once (the server
				// answers Unimplemented), so that per-method state exists for all of them.
				if _, err := client.Compare(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				reply := new(kycv1.CompareResponse)
				for _, method := range extra {
					_ = cc.Invoke(context.Background(), method, req, reply)
				}
				for range warmCalls {
					if _, err := client.Compare(context.Background(), req); err != nil {
						b.Fatal(err)
					}
				}
				b.Run("configured="+kind+"/n="+strconv.Itoa(n)+"/chain="+c.Name+"/mode=serial", serialCompare(client, req))
				_ = cc.Close()
			}
			_ = s.Close()
		}
	}
}

// inflightCalls is how many calls BenchmarkInflight holds at the server at once.
const inflightCalls = 64

// BenchmarkInflight measures the memory one call holds while it is in flight: inflightCalls
// calls (caller deadline) are held at the server, and the live heap and the goroutine stacks
// are compared with the same process at rest. It reports heap-B/call and stack-B/call (the
// server's share included, which is the same for every chain: read them against chain=raw).
// The built-in profile is left out: its adaptive bulkhead lets as few as 2 calls in flight.
func BenchmarkInflight(b *testing.B) {
	srv := StartServer(1)
	b.Cleanup(srv.Stop)
	chains, conns := dialChainsTo(b, srv)
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	for i, c := range chains {
		if c.Name == "suite_builtin" {
			continue
		}
		client := kycv1.NewFaceMatchServiceClient(conns[i])
		b.Run("chain="+c.Name, func(b *testing.B) {
			var heap, stack float64
			for b.Loop() {
				h, s := holdCalls(b, srv, client, req)
				heap += h
				stack += s
			}
			b.ReportMetric(heap/float64(b.N), "heap-B/call")
			b.ReportMetric(stack/float64(b.N), "stack-B/call")
		})
	}
}

// holdCalls starts inflightCalls calls, waits until all of them wait at the server, measures
// the heap and stacks against the state before, releases them and waits for them to end.
func holdCalls(b *testing.B, srv *Server, client kycv1.FaceMatchServiceClient, req *kycv1.CompareRequest) (heapPerCall, stackPerCall float64) {
	var before, during runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	release := srv.Hold()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range inflightCalls {
		wg.Go(func() {
			if _, err := client.Compare(ctx, req, grpc.WaitForReady(true)); err != nil {
				b.Error(err)
			}
		})
	}
	for srv.Waiting() < inflightCalls {
		if ctx.Err() != nil {
			release()
			b.Fatalf("only %d of %d calls reached the server", srv.Waiting(), inflightCalls)
		}
		time.Sleep(100 * time.Microsecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&during)
	release()
	wg.Wait()
	heap := float64(int64(during.HeapAlloc)-int64(before.HeapAlloc)) / inflightCalls
	stack := float64(int64(during.StackInuse)-int64(before.StackInuse)) / inflightCalls
	return heap, stack
}
