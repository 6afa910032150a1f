package benchmarks

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// padFrame uses about 1 KB of stack per level before calling f, so that a call made from it
// starts with that much of its goroutine's stack already in use.
//
//go:noinline
func padFrame(levels int, f func()) {
	var buf [1000]byte
	buf[levels%len(buf)] = byte(levels)
	if levels > 0 {
		padFrame(levels-1, f)
	} else {
		f()
	}
	runtime.KeepAlive(buf)
}

// BenchmarkStackHeadroom estimates how much stack a chain's call path needs on the caller's
// goroutine, which matters when every call runs on a fresh goroutine (a server handler calling
// out): a goroutine starts with 8 KB and doubles its stack, copying it, when a call needs
// more. The calls are made from goroutines that already use pad levels of padFrame (about 1 KB
// each); the first pad at which the held calls' stacks jump tells how deep the path is:
// client-KB is the stack the call needs, within about 1 KB (the server's 8 KB per call taken
// out). Run with -benchtime 1x.
func BenchmarkStackHeadroom(b *testing.B) {
	srv := StartServer(1)
	b.Cleanup(srv.Stop)
	chains, conns := dialChainsTo(b, srv)
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	for i, c := range chains {
		if c.Name == "suite_builtin" {
			continue // its adaptive bulkhead lets too few calls in flight (see BenchmarkInflight)
		}
		client := kycv1.NewFaceMatchServiceClient(conns[i])
		b.Run("chain="+c.Name, func(b *testing.B) {
			used := -1.0
			for b.Loop() {
				prev := stackPerCall(b, srv, client, req, 0)
				for pad := 1; pad <= 24; pad++ {
					cur := stackPerCall(b, srv, client, req, pad)
					if cur > prev+2048 {
						// The client's stack (prev less the server's 8 KB) overflowed at this pad.
						used = (prev-8192)/1024 - float64(pad)
						break
					}
					prev = cur
				}
			}
			b.ReportMetric(used, "client-KB")
		})
	}
}

// stackPerCall holds inflightCalls calls made from goroutines padded by pad levels of padFrame
// and returns the goroutine stack in use per call.
func stackPerCall(b *testing.B, srv *Server, client kycv1.FaceMatchServiceClient, req *kycv1.CompareRequest, pad int) float64 {
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	release := srv.Hold()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range inflightCalls {
		wg.Go(func() {
			call := func() {
				if _, err := client.Compare(ctx, req, grpc.WaitForReady(true)); err != nil {
					b.Error(err)
				}
			}
			padFrame(pad, call)
		})
	}
	for srv.Waiting() < inflightCalls {
		if ctx.Err() != nil {
			release()
			b.Fatalf("only %d of %d calls reached the server", srv.Waiting(), inflightCalls)
		}
		time.Sleep(100 * time.Microsecond)
	}
	runtime.ReadMemStats(&during)
	release()
	wg.Wait()
	return float64(int64(during.StackInuse)-int64(before.StackInuse)) / inflightCalls
}
