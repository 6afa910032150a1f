package bulkhead_test

import (
	"context"
	"io"
	"runtime/debug"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
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

// streamAllocs returns the fewest allocations, over three rounds of a hundred, of one stream
// through ic, from open to its end (RecvMsg returns io.EOF), after a warm-up; no collection
// runs while they are counted, so pools keep what the warm-up put in them.
func streamAllocs(t *testing.T, ic grpc.StreamClientInterceptor) float64 {
	t.Helper()
	ctx := context.Background()
	below := &eofStream{ctx: ctx}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return below, nil
	}
	desc := &grpc.StreamDesc{ServerStreams: true}
	run := func() {
		cs, err := ic(ctx, desc, nil, testkit.MethodCheck, streamer)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.RecvMsg(nil); err != io.EOF {
			t.Fatalf("RecvMsg = %v, want io.EOF", err)
		}
	}
	for range 300 {
		run()
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	got := testing.AllocsPerRun(100, run)
	for range 2 {
		got = min(got, testing.AllocsPerRun(100, run))
	}
	return got
}

// TestStreamAllocs pins what a bulkhead adds to a stream, over what watching its end costs: a
// fixed limit registers the bulkhead itself for the end, with no allocation (it took one, a
// closure, before); an adaptive one registers one small value carrying the stream's sample.
func TestStreamAllocs(t *testing.T) {
	watchOnly := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return streamend.Watch(ctx, desc, cs), nil
	}
	base := streamAllocs(t, watchOnly)
	for _, tt := range []struct {
		name     string
		adaptive bulkhead.Adaptive
		want     float64 // the most allocations the bulkhead may add to a stream
	}{
		{"fixed", bulkhead.Adaptive{}, 0},
		{"aimd", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 4}, 1},
		{"gradient", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, InitialLimit: 4}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1700000000, 0))
			bh, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 4, Adaptive: tt.adaptive}, bulkhead.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			if got := streamAllocs(t, bh.Stream()) - base; got > tt.want {
				t.Errorf("a stream through the bulkhead costs %.0f allocations over watching its end (%.0f), want at most %.0f", got, base, tt.want)
			}
			if n := bh.InFlight(); n != 0 {
				t.Errorf("InFlight = %d after every stream ended, want 0", n)
			}
		})
	}
}
