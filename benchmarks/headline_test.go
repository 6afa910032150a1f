package benchmarks

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
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

// configuredSuite is ConfiguredSuite for a benchmark, which it fails on an error.
func configuredSuite(b *testing.B, kind string, n int) (*interceptors.Suite, []string) {
	b.Helper()
	s, extra, err := ConfiguredSuite(kind, n)
	if err != nil {
		b.Fatal(err)
	}
	return s, extra
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
