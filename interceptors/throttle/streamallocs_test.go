package throttle

import (
	"context"
	"io"
	"runtime/debug"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"google.golang.org/grpc"
)

// eofStream is a stream whose every RecvMsg returns io.EOF: one value serves every stream.
type eofStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s *eofStream) Context() context.Context { return s.ctx }
func (s *eofStream) RecvMsg(any) error        { return io.EOF }

// TestStreamAllocs pins what the throttle adds to a stream, over watching its end: one value
// for its end, which judges the stream with its caller's context and its classifier; and each
// stream is counted, a request and an accept.
func TestStreamAllocs(t *testing.T) {
	th, _, _ := newTest(t, Config{})
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
	allocs := func(ic grpc.StreamClientInterceptor) float64 {
		run := func() {
			cs, err := ic(ctx, desc, nil, method, streamer)
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
		got := testing.AllocsPerRun(100, run)
		for range 2 {
			got = min(got, testing.AllocsPerRun(100, run))
		}
		return got
	}
	base := allocs(watchOnly)
	got := allocs(th.Stream()) - base
	const streams = 300 + 3*101 // AllocsPerRun runs once more to warm up.
	if requests, accepts := th.Counts(); requests != streams || accepts != streams {
		t.Fatalf("Counts = %d requests, %d accepts, want %d of each: one a stream", requests, accepts, streams)
	}
	const want = 1
	if got > want {
		t.Errorf("a stream through the throttle costs %.0f allocations over watching its end (%.0f), want at most %d", got, base, want)
	}
}
