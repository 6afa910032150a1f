package testkit

import (
	"context"
	"io"
	"testing/synctest"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ScriptedStream is a client stream standing for gRPC's in tests of the policies that wrap
// streams: its context is a child of the one it was opened with and ends when RecvMsg returns,
// as gRPC's does when a stream ends. SendMsg returns io.EOF once that context has ended. With
// Hang, RecvMsg waits for the context to end and returns its status (a per-attempt timeout's
// DeadlineExceeded, say); without it, RecvMsg answers at once.
type ScriptedStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	hang   bool
}

// NewScriptedStream returns a ScriptedStream opened with ctx; hang: RecvMsg waits for its
// context to end.
func NewScriptedStream(ctx context.Context, hang bool) *ScriptedStream {
	sctx, cancel := context.WithCancel(ctx)
	return &ScriptedStream{ctx: sctx, cancel: cancel, hang: hang}
}

var _ grpc.ClientStream = (*ScriptedStream)(nil)

func (s *ScriptedStream) Header() (metadata.MD, error) { return nil, nil }
func (s *ScriptedStream) Trailer() metadata.MD         { return nil }
func (s *ScriptedStream) CloseSend() error             { return nil }
func (s *ScriptedStream) Context() context.Context     { return s.ctx }

// SendMsg accepts m while the stream's context is live, and returns io.EOF after.
func (s *ScriptedStream) SendMsg(any) error {
	if s.ctx.Err() != nil {
		return io.EOF
	}
	return nil
}

// RecvMsg answers, at once or when the stream's context ends (Hang), and ends the stream's
// context.
func (s *ScriptedStream) RecvMsg(any) error {
	defer s.cancel()
	if s.hang {
		<-s.ctx.Done()
		return status.FromContextError(s.ctx.Err()).Err()
	}
	return nil
}

// CloseAndRecvInBubble sends last on cs, closes its send side and receives its reply into
// reply, in a goroutine of the caller's synctest bubble, moving clk to its next timer whenever
// every goroutine of the bubble is blocked (a retry's backoff sleep, say), and returns the
// first error: the send's, CloseSend's or RecvMsg's. Call it inside synctest.Test.
func CloseAndRecvInBubble(cs grpc.ClientStream, clk *clocktest.Fake, last, reply any) error {
	got := make(chan error, 1)
	go func() {
		if err := cs.SendMsg(last); err != nil {
			got <- err
			return
		}
		if err := cs.CloseSend(); err != nil {
			got <- err
			return
		}
		got <- cs.RecvMsg(reply)
	}()
	for {
		synctest.Wait()
		select {
		case err := <-got:
			return err
		default:
			clk.AdvanceWhenWaiting()
		}
	}
}
