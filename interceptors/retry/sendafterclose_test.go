package retry_test

import (
	"context"
	"io"
	"strconv"
	"sync"
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

// wireAttempt is a client-streaming attempt stream that records what reaches its server: the
// messages sent, and whether the send side was closed. With dead set the server has ended it:
// sends return io.EOF, and RecvMsg the attempt's Unavailable.
type wireAttempt struct {
	ctx    context.Context
	mu     *sync.Mutex
	wire   *[]string // what reached the server, in order, over every attempt
	dead   bool
	closed bool
}

func (a *wireAttempt) Header() (metadata.MD, error) { return nil, nil }
func (a *wireAttempt) Trailer() metadata.MD         { return nil }
func (a *wireAttempt) Context() context.Context     { return a.ctx }

func (a *wireAttempt) CloseSend() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	*a.wire = append(*a.wire, "close")
	return nil
}

func (a *wireAttempt) SendMsg(m any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead {
		return io.EOF
	}
	if a.closed {
		return status.Error(grpccodes.Internal, "SendMsg called after CloseSend")
	}
	*a.wire = append(*a.wire, "frame-"+strconv.Itoa(int(m.(*kycv1.CheckRequest).GetIndex())))
	return nil
}

func (a *wireAttempt) RecvMsg(any) error {
	if a.dead {
		return status.Error(grpccodes.Unavailable, "server restarting")
	}
	return nil
}

// TestStreamSendAfterCloseSendIsNotReplayed: a SendMsg after CloseSend is the caller's error,
// which grpc answers with Internal ("SendMsg called after CloseSend") and which ends the
// stream. While the attempt had failed (its sends said io.EOF), the retry stream kept such a
// message for the replay and reported it sent: the retry then delivered it to the server,
// before closing the send side again, a message that no stream without the retry loop would
// ever have sent.
func TestStreamSendAfterCloseSendIsNotReplayed(t *testing.T) {
	for _, dead := range []bool{true, false} {
		name := "attempt alive"
		if dead {
			name = "attempt failed"
		}
		t.Run(name, func(t *testing.T) {
			s := newSetup(t, retry.Config{MaxAttempts: 3, Idempotent: true, Jitter: retry.JitterNone}, 0)
			var (
				mu       sync.Mutex
				wire     []string
				attempts []*wireAttempt
			)
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				mu.Lock()
				defer mu.Unlock()
				a := &wireAttempt{ctx: ctx, mu: &mu, wire: &wire}
				attempts = append(attempts, a)
				wire = append(wire, "open")
				return a, nil
			}
			desc := &grpc.StreamDesc{ClientStreams: true}
			cs, err := s.p.Stream()(context.Background(), desc, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.SendMsg(&kycv1.CheckRequest{Index: 1}); err != nil {
				t.Fatal(err)
			}
			if dead {
				mu.Lock()
				attempts[0].dead = true // the server ends the attempt
				mu.Unlock()
				if err := cs.SendMsg(&kycv1.CheckRequest{Index: 2}); err != nil {
					t.Fatalf("SendMsg on the failed attempt = %v, want nil (kept for the replay)", err)
				}
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			err = cs.SendMsg(&kycv1.CheckRequest{Index: 99})
			if status.Code(err) != grpccodes.Internal {
				t.Errorf("SendMsg after CloseSend = %v, want Internal, as grpc answers", err)
			}
			rerr := cs.RecvMsg(new(kycv1.CheckResponse))
			s.drv.stop()
			mu.Lock()
			defer mu.Unlock()
			for _, w := range wire {
				if w == "frame-99" {
					t.Fatalf("the server got %q (RecvMsg = %v); a message sent after CloseSend reached it", wire, rerr)
				}
			}
			if status.Code(rerr) != grpccodes.Internal {
				t.Errorf("RecvMsg after a SendMsg after CloseSend = %v, want that send's Internal: it ended the stream, as in grpc", rerr)
			}
			if n := s.rec.Count(observe.AttemptFinished); n != len(attempts) || len(attempts) != 1 {
				t.Errorf("%d attempts opened, %d AttemptFinished; want 1 of each: the stream ended with the send", len(attempts), n)
			}
		})
	}
}
