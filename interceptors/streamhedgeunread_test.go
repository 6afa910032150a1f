package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// givenUpStream is a replyStream that ends, as grpc's does, when its context ends.
type givenUpStream struct{ replyStream }

func (f *givenUpStream) RecvMsg(m any) error {
	if err := f.ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return f.replyStream.RecvMsg(m)
}

// TestHedgedStreamGivenUpReportsItsAttemptOnce: a client stream through a retry loop over a
// hedging policy whose caller gives it up (cancels its context) while no RecvMsg or SendMsg
// runs reports its one request with one AttemptFinished (retry's doc, Events: each request
// sent is reported by exactly one AttemptFinished), when the caller then reads the stream's
// status as well: the retry loop reported it at the end and the hedging policy again at the
// caller's RecvMsg, two AttemptFinished of attempt 1.
func TestHedgedStreamGivenUpReportsItsAttemptOnce(t *testing.T) {
	// Whether the caller's later RecvMsg reaches the hedging policy's reply phase depends on
	// the order in which the stream's layers saw the end: 50 streams all meet the case.
	for i := range 50 {
		if !givenUpReportsOnce(t) {
			t.Fatalf("stream %d", i)
		}
	}
}

func givenUpReportsOnce(t *testing.T) bool {
	t.Helper()
	rec := &testkit.Recorder{}
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Retry: &retry.Config{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
				Multiplier: 1, Jitter: retry.JitterNone},
			Hedge: &hedge.Config{MaxAttempts: 2, Delay: time.Hour, MinDelay: time.Hour, MaxDelay: time.Hour},
		}},
		Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
	}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		return &givenUpStream{replyStream{ctx: ctx}}, nil
	}
	caller, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	desc := &grpc.StreamDesc{ClientStreams: true}
	cs, err := s.Stream()(caller, desc, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
		t.Fatal(err)
	}
	w, ok := cs.(*streamend.Stream)
	if !ok {
		t.Fatalf("the stream is a %T, want a *streamend.Stream", cs)
	}
	ended := make(chan streamend.End, 1)
	w.OnEnd(func(e streamend.End) { ended <- e }) // runs after the suite's
	giveUp()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream's end was never seen")
	}
	// The caller, back, finds the stream ended, and reads its status as grpc asks.
	_ = cs.SendMsg(&kycv1.CheckRequest{Index: 1})
	_ = cs.CloseSend()
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Canceled {
		t.Errorf("RecvMsg of a stream given up: %v, want Canceled", err)
	}
	if evs := rec.Events(observe.AttemptFinished); len(evs) != 1 {
		t.Errorf("%d AttemptFinished for the stream's one request, want 1: %+v", len(evs), evs)
		return false
	}
	return true
}
