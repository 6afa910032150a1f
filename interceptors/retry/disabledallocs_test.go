package retry

import (
	"context"
	"io"
	"runtime/debug"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// eofStream is a stream whose every RecvMsg returns io.EOF: one value serves every stream.
type eofStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s *eofStream) Context() context.Context { return s.ctx }
func (s *eofStream) RecvMsg(any) error        { return io.EOF }

// TestDisabledStreamAllocs pins what a suite's retry step adds to a stream made with Disable,
// over watching its end: one value holding the attempt's Round and what its report needs,
// registered for the end with OnEndOf (the Round and two closures, before), and the stream's
// call options with the Round; each stream still reports its one attempt.
func TestDisabledStreamAllocs(t *testing.T) {
	var finished int
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.AttemptFinished {
			finished++
		}
	})
	p, err := New(Config{MaxAttempts: 3, Idempotent: true}, WithClock(clocktest.New(time.Unix(1e9, 0))), WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
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
	opts := []grpc.CallOption{Disable()}
	allocs := func(ic grpc.StreamClientInterceptor) float64 {
		run := func() {
			cs, err := ic(ctx, desc, nil, "/kyc.v1.LivenessService/Check", streamer, opts...)
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
	finished = 0
	got := allocs(p.stream(true)) - base
	if finished != 3*101+300 { // AllocsPerRun runs once more to warm up.
		t.Fatalf("%d AttemptFinished events, want %d: one a stream", finished, 3*101+300)
	}
	// want: the disabledStream and the call options with its Round.
	const want = 2
	if got > want {
		t.Errorf("a stream made with Disable through a suite's retry step costs %.0f allocations over watching its end (%.0f), want at most %d", got, base, want)
	}
}
