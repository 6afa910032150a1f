package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// headerFailedStream is a client stream that gRPC ended before its response began: its Header
// and its RecvMsg return err (gRPC counts the Header's error among a stream's ends).
type headerFailedStream struct {
	ctx context.Context
	err error
}

func (s headerFailedStream) Header() (metadata.MD, error) { return nil, s.err }
func (s headerFailedStream) Trailer() metadata.MD         { return nil }
func (s headerFailedStream) CloseSend() error             { return nil }
func (s headerFailedStream) Context() context.Context     { return s.ctx }
func (s headerFailedStream) SendMsg(any) error            { return nil }
func (s headerFailedStream) RecvMsg(any) error            { return s.err }

// TestHedgedStreamEndedInHeaderReportsAttemptOneOnce: a client stream hedged with no retry
// loop above the hedging policy (a profile without a retry section, or a stream made with
// retry.Disable) whose Header fails (gRPC ended it) is reported at that end, attempt 1 by one
// AttemptFinished; the caller's CloseAndRecv after it (its RecvMsg) is no hedged reply phase
// that reports attempt 1 again: the end's report claims the round (attempt.Round.Claim), as
// the retry loop's does. It reported the attempt once with the retry policy's label and again
// with the hedging policy's.
func TestHedgedStreamEndedInHeaderReportsAttemptOneOnce(t *testing.T) {
	for _, tt := range []struct {
		name  string
		retry *retry.Config
		opts  []grpc.CallOption
	}{
		{name: "no retry section"},
		{name: "retry disabled", retry: &retry.Config{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
			Multiplier: 1, Jitter: retry.JitterNone, Idempotent: true}, opts: []grpc.CallOption{retry.Disable()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1700000000, 0))
			rec := &testkit.Recorder{}
			cfg := &config.Config{
				Profiles: map[string]config.Profile{"p": {
					Retry: tt.retry,
					Hedge: &hedge.Config{MaxAttempts: 2, Delay: 20 * time.Millisecond, Idempotent: true},
				}},
				Services: map[string]config.Service{queuedStreamSvc: {Profile: "p"}},
			}
			s, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ended := status.Error(grpccodes.Unavailable, "connection reset")
			opened := 0
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				opened++
				return headerFailedStream{ctx: ctx, err: ended}, nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cs, err := s.Stream()(ctx, &grpc.StreamDesc{ClientStreams: true}, nil, "/"+queuedStreamSvc+"/Check", streamer, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.SendMsg(&emptypb.Empty{}); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.Header(); status.Code(err) != grpccodes.Unavailable {
				t.Fatalf("Header: %v, want the stream's end", err)
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if err := cs.RecvMsg(new(emptypb.Empty)); status.Code(err) != grpccodes.Unavailable {
				t.Fatalf("RecvMsg: %v, want the stream's end", err)
			}
			if opened != 1 || rec.Count(observe.HedgeSent) != 0 {
				t.Errorf("%d streams opened, %d HedgeSent; want attempt 1 alone", opened, rec.Count(observe.HedgeSent))
			}
			var got []string
			for _, e := range rec.Events(observe.AttemptFinished) {
				got = append(got, e.Policy+":"+e.Class.String())
				if e.Attempt != 1 {
					t.Errorf("AttemptFinished of attempt %d, want 1 only", e.Attempt)
				}
			}
			if len(got) != 1 {
				t.Errorf("attempt 1 reported %d times (%v), want once", len(got), got)
			}
		})
	}
}
