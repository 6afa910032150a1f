package bulkhead_test

import (
	"context"
	"io"
	"math"
	"runtime"
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

// streamAllocs returns the fewest allocations and bytes, over rounds of a hundred, of one stream
// through ic, from open to its end (RecvMsg returns io.EOF), after a warm-up; no collection
// runs while they are counted, so pools keep what the warm-up put in them.
func streamAllocs(t *testing.T, ic grpc.StreamClientInterceptor) (n, bytes float64) {
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
	base, baseBytes := streamAllocs(t, watchOnly)
	for _, tt := range []struct {
		name     string
		adaptive bulkhead.Adaptive
		want     float64 // the most allocations the bulkhead may add to a stream
		// wantBytes is the most bytes it may add: the adaptive limit's value for the end
		// is 64 (80 when it held the stream's start as a time.Time).
		wantBytes float64
	}{
		{"fixed", bulkhead.Adaptive{}, 0, 0},
		{"aimd", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: 4}, 1, 64},
		{"gradient", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, InitialLimit: 4}, 1, 64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1700000000, 0))
			bh, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 4, Adaptive: tt.adaptive}, bulkhead.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			got, gotBytes := streamAllocs(t, bh.Stream())
			got, gotBytes = got-base, gotBytes-baseBytes
			t.Logf("%.1f allocations, %.1f bytes over watching the end", got, gotBytes)
			if got > tt.want {
				t.Errorf("a stream through the bulkhead costs %.0f allocations over watching its end (%.0f), want at most %.0f", got, base, tt.want)
			}
			if gotBytes > tt.wantBytes {
				t.Errorf("a stream through the bulkhead costs %.0f bytes over watching its end (%.0f), want at most %.0f", gotBytes, baseBytes, tt.wantBytes)
			}
			if n := bh.InFlight(); n != 0 {
				t.Errorf("InFlight = %d after every stream ended, want 0", n)
			}
		})
	}
}
