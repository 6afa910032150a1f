package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// TestStreamEndedUnreadReportsNoCall: a stream that ends while no RecvMsg or SendMsg of its
// caller runs, because its caller gave it up (Caller) or grpc ended it unread (Transport),
// sends no CallFinished (interceptors/doc.go, Events: the suite cannot tell how it ended),
// while its one attempt, in a chain without an attempt loop, is still reported once.
func TestStreamEndedUnreadReportsNoCall(t *testing.T) {
	for _, tt := range []struct {
		name      string
		wantCause streamend.Cause
	}{
		{"grpc ended it unread", streamend.Transport},
		{"its caller gave it up", streamend.Caller},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &testkit.Recorder{}
			cfg := &config.Config{
				Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour}}},
				Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
			}
			s, err := interceptors.New(cfg, interceptors.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var endStream context.CancelFunc
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				sctx, cancel := context.WithCancel(ctx)
				endStream = cancel
				return &replyStream{ctx: sctx}, nil
			}
			caller, giveUp := context.WithCancel(context.Background())
			defer giveUp()
			desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
			cs, err := s.Stream()(caller, desc, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			defer endStream()
			// A first response: grpc has committed the stream, whose own context is watched.
			if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != nil {
				t.Fatal(err)
			}
			w, ok := cs.(*streamend.Stream)
			if !ok {
				t.Fatalf("the stream is a %T, want a *streamend.Stream", cs)
			}
			ended := make(chan streamend.End, 1)
			w.OnEnd(func(e streamend.End) { ended <- e }) // runs after the suite's
			if tt.wantCause == streamend.Transport {
				endStream()
			} else {
				giveUp()
			}
			var e streamend.End
			select {
			case e = <-ended:
			case <-time.After(10 * time.Second):
				t.Fatal("the stream's end was never seen")
			}
			if e.Cause != tt.wantCause {
				t.Fatalf("the stream ended by %v, want %v", e.Cause, tt.wantCause)
			}
			if evs := rec.Events(observe.CallFinished); len(evs) != 0 {
				t.Errorf("CallFinished events %+v, want none for a stream that ended unread", evs)
			}
			if evs := rec.Events(observe.AttemptFinished); len(evs) != 1 || evs[0].Attempt != 1 {
				t.Errorf("AttemptFinished events %+v, want the stream's one attempt", evs)
			}
		})
	}
}
