package bulkhead_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestAdaptiveSampleTimedFromTheSlot: a call's latency runs from the slot it took, not from
// the bulkhead's making: a 5 ms call an hour after New is a fast answer (the limit grows, the
// event's Duration is 5 ms), not an hour-long one (a drop under LatencyThreshold).
func TestAdaptiveSampleTimedFromTheSlot(t *testing.T) {
	const took = 5 * time.Millisecond
	serverStream := &grpc.StreamDesc{ServerStreams: true}
	for _, kind := range []string{"unary", "stream"} {
		t.Run(kind, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			rec := &testkit.Recorder{}
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{
				Algorithm: "aimd", InitialLimit: 2, LatencyThreshold: 20 * time.Millisecond, BackoffRatio: 0.5,
			}}, bulkhead.WithClock(clk), bulkhead.WithObserver(rec))
			clk.Advance(time.Hour)
			switch kind {
			case "unary":
				invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
					clk.Advance(took)
					return nil
				}
				if err := b.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker); err != nil {
					t.Fatalf("Unary = %v", err)
				}
			case "stream":
				streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					return &fakeStream{ctx: ctx}, nil
				}
				cs, err := b.Stream()(context.Background(), serverStream, nil, testkit.MethodCompare, streamer)
				if err != nil {
					t.Fatalf("open = %v", err)
				}
				clk.Advance(took)
				_ = cs.RecvMsg(nil) // io.EOF: the stream's end, a success
			}
			if b.Capacity() != 3 || b.InFlight() != 0 {
				t.Fatalf("limit %d in flight %d, want 3 0 (a fast success grows the limit)", b.Capacity(), b.InFlight())
			}
			evs := rec.Events(observe.LimitChanged)
			if len(evs) != 1 || evs[0].Duration != took {
				t.Fatalf("LimitChanged events %+v, want one with Duration %v", evs, took)
			}
		})
	}
}

// TestAdaptiveSendFailureIsNoSample: a stream that ends because SendMsg failed (an error of
// this side's, such as a message that does not marshal) gives its slot back with no sample:
// the limit stays where it was, whatever the error's class.
func TestAdaptiveSendFailureIsNoSample(t *testing.T) {
	for _, sendErr := range []error{
		status.Error(grpccodes.Internal, "grpc: error while marshaling"),
		status.Error(grpccodes.Unavailable, "transport is closing"),
	} {
		t.Run(status.Code(sendErr).String(), func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			rec := &testkit.Recorder{}
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{
				Algorithm: "aimd", InitialLimit: 2, BackoffRatio: 0.5,
			}}, bulkhead.WithClock(clk), bulkhead.WithObserver(rec))
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				return &fakeStream{ctx: ctx, send: sendErr}, nil
			}
			cs, err := b.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatalf("open = %v", err)
			}
			clk.Advance(time.Millisecond)
			if err := cs.SendMsg(nil); !errors.Is(err, sendErr) {
				t.Fatalf("SendMsg = %v, want %v", err, sendErr)
			}
			if b.InFlight() != 0 {
				t.Fatalf("InFlight = %d after the send failed, want 0", b.InFlight())
			}
			if got := b.Capacity(); got != 2 {
				t.Errorf("limit = %d after a send failure, want 2 (no sample)", got)
			}
			if evs := rec.Events(observe.LimitChanged); len(evs) != 0 {
				t.Errorf("LimitChanged events %+v, want none", evs)
			}
		})
	}
}
