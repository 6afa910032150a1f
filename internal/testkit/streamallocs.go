package testkit

import (
	"context"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"google.golang.org/grpc"
)

// StreamAllocsRuns is how many streams StreamAllocs opens through an interceptor: a warm-up of
// 300, four AllocsPerRun of 100 (each runs once more to warm up) and three rounds of 100 for
// the bytes. A test that counts what the interceptor saw checks against it.
const StreamAllocsRuns = 300 + 4*101 + 3*100

// eofStream is a stream whose every RecvMsg returns io.EOF: one value serves every stream.
type eofStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s *eofStream) Context() context.Context { return s.ctx }
func (s *eofStream) RecvMsg(any) error        { return io.EOF }

// WatchOnly is a stream interceptor that only watches the stream's end (streamend.Watch): the
// base a policy's stream allocations are counted over, since every policy that acts on a
// stream's end watches it.
func WatchOnly(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return streamend.Watch(ctx, desc, cs), nil
}

// StreamAllocs returns the fewest allocations and bytes, over rounds of a hundred, of one
// server stream of method with opts through ic, from its open to its end (the stream below, one
// value for every stream, answers RecvMsg with io.EOF), after a warm-up; no collection runs
// while they are counted, so pools keep what the warm-up put in them. It opens
// StreamAllocsRuns streams in all.
func StreamAllocs(t testing.TB, ic grpc.StreamClientInterceptor, method string, opts ...grpc.CallOption) (n, bytes float64) {
	t.Helper()
	ctx := context.Background()
	below := &eofStream{ctx: ctx}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return below, nil
	}
	desc := &grpc.StreamDesc{ServerStreams: true}
	run := func() {
		cs, err := ic(ctx, desc, nil, method, streamer, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.RecvMsg(nil); err != io.EOF {
			t.Fatalf("RecvMsg = %v, want io.EOF", err)
		}
	}
	for range 300 { // Fills the pools and the runtime's caches.
		run()
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	n, bytes = testing.AllocsPerRun(100, run), math.Inf(1)
	for range 3 {
		n = min(n, testing.AllocsPerRun(100, run))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			run()
		}
		runtime.ReadMemStats(&after)
		bytes = min(bytes, float64(after.TotalAlloc-before.TotalAlloc)/100)
	}
	return n, bytes
}
