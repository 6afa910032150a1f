package breaker

import (
	"context"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// eofStream is a stream whose every RecvMsg returns io.EOF: one value serves every stream.
type eofStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s *eofStream) Context() context.Context { return s.ctx }
func (s *eofStream) RecvMsg(any) error        { return io.EOF }

// TestStreamAllocs pins what the breaker adds to a stream, over watching its end: one small
// value for its end, holding the stream's permit, caller's context, call options and
// classifier (a closure of them, before: one allocation too, of 96 bytes); and each stream's
// end is recorded, a success.
func TestStreamAllocs(t *testing.T) {
	br, _, _ := newTest(t, Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour})
	watchOnly := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return streamend.Watch(ctx, desc, cs), nil
	}
	ctx := context.Background()
	below := &eofStream{ctx: ctx}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return below, nil
	}
	desc := &grpc.StreamDesc{ServerStreams: true}
	allocs := func(ic grpc.StreamClientInterceptor) (n, bytes float64) {
		run := func() {
			cs, err := ic(ctx, desc, nil, testkit.MethodCompare, streamer)
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
	base, baseBytes := allocs(watchOnly)
	got, gotBytes := allocs(br.Stream())
	got, gotBytes = got-base, gotBytes-baseBytes
	const streams = 300 + 4*101 + 3*100 // AllocsPerRun runs once more to warm up.
	if s := br.Stats(); s.Calls != streams || s.Successes != streams {
		t.Fatalf("Stats = %+v, want %d calls, all successes: one a stream", s, streams)
	}
	t.Logf("%.1f allocations, %.1f bytes over watching the end", got, gotBytes)
	const want, wantBytes = 1, 80
	if got > want {
		t.Errorf("a stream through the breaker costs %.0f allocations over watching its end (%.0f), want at most %d", got, base, want)
	}
	if gotBytes > wantBytes {
		t.Errorf("a stream through the breaker costs %.0f bytes over watching its end (%.0f), want at most %d", gotBytes, baseBytes, wantBytes)
	}
}
