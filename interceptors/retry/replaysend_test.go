package retry_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// limitAttempt is a client-streaming attempt stream with a client-side send check: a message
// over limit bytes fails its SendMsg with the client's own error, before anything is sent.
// gRPC's own are a size limit's ResourceExhausted (business, by the classifier) and a marshal
// failure's Internal; this one is an Unavailable, which a retry would take for transient, so
// that only the rule that a send's own error is never retried keeps it from another attempt. With deadAfter > 0 the server ends the attempt after that many messages: later sends
// return io.EOF, and RecvMsg the attempt's Unavailable.
type limitAttempt struct {
	ctx       context.Context
	limit     int
	deadAfter int
	sent      int
}

func (a *limitAttempt) Header() (metadata.MD, error) { return nil, nil }
func (a *limitAttempt) Trailer() metadata.MD         { return nil }
func (a *limitAttempt) CloseSend() error             { return nil }
func (a *limitAttempt) Context() context.Context     { return a.ctx }

func (a *limitAttempt) SendMsg(m any) error {
	if len(m.(*kycv1.CheckRequest).GetImage()) > a.limit {
		return status.Error(grpccodes.Unavailable, "client-side send check failed")
	}
	if a.deadAfter > 0 && a.sent >= a.deadAfter {
		return io.EOF
	}
	a.sent++
	return nil
}

func (a *limitAttempt) RecvMsg(any) error {
	if a.deadAfter > 0 {
		return status.Error(grpccodes.Unavailable, "server restarting")
	}
	return nil
}

// TestStreamReplayOverTheSendLimitIsNotRetried: a message sent while the attempt had failed
// (its SendMsg said io.EOF) is kept unsent, and first meets the client's send check when the
// retry replays it. The client's own error of a send ends the stream without a retry (the
// package documentation), in the replay as in SendMsg: another attempt would fail alike. It
// was retried by its class, every attempt opening a stream and replaying the messages before
// it to the server, until max_attempts.
func TestStreamReplayOverTheSendLimitIsNotRetried(t *testing.T) {
	s := newSetup(t, retry.Config{MaxAttempts: 4, Idempotent: true, Jitter: retry.JitterNone}, 0)
	var opened atomic.Int32
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		a := &limitAttempt{ctx: ctx, limit: 1000}
		if opened.Add(1) == 1 {
			a.deadAfter = 1
		}
		return a, nil
	}
	var info retry.Info
	desc := &grpc.StreamDesc{ClientStreams: true}
	cs, err := s.p.Stream()(context.Background(), desc, nil, testkit.MethodCheck, streamer, retry.Report(&info))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{10, 10, 2000} {
		if err := cs.SendMsg(&kycv1.CheckRequest{Image: make([]byte, size)}); err != nil {
			t.Fatalf("SendMsg of %d bytes = %v", size, err)
		}
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	err = cs.RecvMsg(new(kycv1.CheckResponse))
	s.drv.stop()
	if status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("RecvMsg = %v, want the send's own Unavailable", err)
	}
	if _, exhausted := retry.InfoOf(err); exhausted || opened.Load() != 2 {
		t.Fatalf("RecvMsg = %v after %d attempts, want the send's error as it is after 2: the replay's own error is not retried", err, opened.Load())
	}
	if n := s.rec.Count(observe.AttemptFinished); n != 2 || info.Attempts != 2 || info.Code != grpccodes.Unavailable || info.Reason != "" {
		t.Fatalf("%d AttemptFinished, Report %+v; want 2, and 2 attempts ending in the send's Unavailable", n, info)
	}
}
