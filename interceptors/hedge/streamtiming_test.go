package hedge_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// timedStream is a client stream whose send and receive take fake time: each SendMsg moves
// the clock by send, RecvMsg by recv and then answers; with hang, RecvMsg waits for the
// stream's context to end and returns its status.
type timedStream struct {
	grpc.ClientStream
	ctx        context.Context
	clk        *clocktest.Fake
	send, recv time.Duration
	hang       bool
}

func (s *timedStream) SendMsg(any) error {
	s.clk.Advance(s.send)
	return nil
}

func (s *timedStream) CloseSend() error             { return nil }
func (s *timedStream) Header() (metadata.MD, error) { return nil, nil }
func (s *timedStream) Trailer() metadata.MD         { return nil }
func (s *timedStream) Context() context.Context     { return s.ctx }
func (s *timedStream) RecvMsg(any) error            { return s.receive() }
func (s *timedStream) receive() error {
	if s.hang {
		<-s.ctx.Done()
		return status.FromContextError(s.ctx.Err()).Err()
	}
	s.clk.Advance(s.recv)
	return nil
}

// timedStreamer opens the i-th stream with streams[i], on ctx.
func timedStreamer(clk *clocktest.Fake, streams ...timedStream) grpc.Streamer {
	var mu sync.Mutex
	i := 0
	return func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		mu.Lock()
		defer mu.Unlock()
		st := streams[i]
		i++
		st.ctx, st.clk = ctx, clk
		return &st, nil
	}
}

// durations returns the Duration of each attempt's AttemptFinished, by attempt number.
func durations(t *testing.T, rec *testkit.Recorder) map[int]time.Duration {
	t.Helper()
	out := map[int]time.Duration{}
	for _, e := range rec.Events(observe.AttemptFinished) {
		out[e.Attempt] = e.Duration
	}
	return out
}

// learnsFromSmallest is a learnt delay that is the smallest latency sample, from the first one
// on: Policy.Delay tells that sample.
var learnsFromSmallest = hedge.Config{Delay: delay, Percentile: 0.01, MedianMultiple: 1000, MinSamples: 1, MinDelay: time.Microsecond}

// TestStreamAttemptOneDurationFromItsOpen: attempt 1 of a hedged client stream starts when the
// stream opens. Its AttemptFinished's Duration is its own, the caller's sending included; its
// latency sample is the server's time to answer, from the reply phase (CloseAndRecv) on.
func TestStreamAttemptOneDurationFromItsOpen(t *testing.T) {
	s := newSetup(t, learnsFromSmallest)
	streamer := timedStreamer(s.clk, timedStream{send: 10 * time.Millisecond, recv: 7 * time.Millisecond})
	cs, err := s.p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := cs.SendMsg(&kycv1.CheckRequest{Index: uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != nil {
		t.Fatal(err)
	}
	if got, want := durations(t, s.rec)[1], 47*time.Millisecond; got != want {
		t.Fatalf("attempt 1's AttemptFinished Duration = %v, want %v (from the stream's open)", got, want)
	}
	if got, want := s.p.Delay(testkit.MethodCheck), 7*time.Millisecond; got != want {
		t.Fatalf("learnt delay %v, want the reply phase's %v", got, want)
	}
}

// TestStreamHedgeSampleLeavesOutTheReplay: a stream hedge's latency sample is the server's time
// to answer, from the end of its replay (its send side closed), as attempt 1's is from the
// reply phase; its AttemptFinished's Duration is its own, the replay included.
func TestStreamHedgeSampleLeavesOutTheReplay(t *testing.T) {
	s := newSetup(t, learnsFromSmallest)
	streamer := timedStreamer(s.clk,
		timedStream{hang: true},
		timedStream{send: 20 * time.Millisecond, recv: 9 * time.Millisecond})
	cs, err := s.p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := cs.SendMsg(&kycv1.CheckRequest{Index: uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
	s.clk.BlockUntil(1)
	s.clk.Advance(delay)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.winner(t) != 2 {
		t.Fatal("the hedge did not win")
	}
	if got, want := durations(t, s.rec)[2], 69*time.Millisecond; got != want {
		t.Fatalf("the hedge's AttemptFinished Duration = %v, want %v (its replay included)", got, want)
	}
	// The samples: the hedge's 9ms, and attempt 1's, a loser canceled past the delay
	// (delay+69ms).
	if got, want := s.p.Delay(testkit.MethodCheck), 9*time.Millisecond; got != want {
		t.Fatalf("learnt delay %v, want the hedge's answer after its replay, %v", got, want)
	}
}
