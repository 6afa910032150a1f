package streamend

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// committingStream is a fakeStream that notes, as gRPC's stream would, a Context read before
// its response started: gRPC commits the stream to its attempt when its Context is read, and
// a RecvMsg or Header that finds it committed so early has lost gRPC's retries.
type committingStream struct {
	*fakeStream
	early atomic.Bool
}

func (c *committingStream) RecvMsg(m any) error {
	if c.ctxCalls.Load() != 0 {
		c.early.Store(true)
	}
	return c.fakeStream.RecvMsg(m)
}

func (c *committingStream) Header() (metadata.MD, error) {
	if c.ctxCalls.Load() != 0 {
		c.early.Store(true)
	}
	return c.fakeStream.Header()
}

// TestCommit: the stream's Context is not read before its first RecvMsg or Header returns (or
// the caller asks for it), so that gRPC keeps its retries; until then the caller's context is
// watched, and an end of the stream's context (gRPC's) waits for RecvMsg or the caller. From
// then on, gRPC's end of a stream nobody reads is seen (Transport).
func TestCommit(t *testing.T) {
	tests := []struct {
		name string
		// act drives the stream and returns the end wanted; commits is whether it committed
		// the stream.
		act     func(t *testing.T, w *Stream, c *committingStream, cancelCaller context.CancelFunc) End
		commits bool
	}{
		{
			name: "RecvMsg commits once it returns; then gRPC's end is seen", commits: true,
			act: func(t *testing.T, w *Stream, c *committingStream, _ context.CancelFunc) End {
				c.recv <- nil
				if err := w.RecvMsg(nil); err != nil {
					t.Fatal(err)
				}
				c.finish()
				return End{Err: context.Canceled, Cause: Transport}
			},
		},
		{
			name: "Header commits once it returns; then gRPC's end is seen", commits: true,
			act: func(t *testing.T, w *Stream, c *committingStream, _ context.CancelFunc) End {
				if _, err := w.Header(); err != nil {
					t.Fatal(err)
				}
				c.finish()
				return End{Err: context.Canceled, Cause: Transport}
			},
		},
		{
			name: "Context commits; then gRPC's end is seen", commits: true,
			act: func(t *testing.T, w *Stream, c *committingStream, _ context.CancelFunc) End {
				if got := w.Context(); got != c.ctx {
					t.Fatalf("Context = %v, want the stream's", got)
				}
				c.finish()
				return End{Err: context.Canceled, Cause: Transport}
			},
		},
		{
			name: "gRPC's end before the commit waits for RecvMsg's status",
			act: func(t *testing.T, w *Stream, c *committingStream, _ context.CancelFunc) End {
				if err := w.SendMsg(nil); err != nil {
					t.Fatal(err)
				}
				_ = w.CloseSend()
				c.finish()
				synctest.Wait()
				if e, ended := w.Ended(); ended {
					t.Fatalf("ended (%+v) by a context the stream did not read", e)
				}
				if c.ctxCalls.Load() != 0 {
					t.Fatal("the stream's Context was read before its response started")
				}
				c.recv <- errUnavailable
				if err := w.RecvMsg(nil); err != errUnavailable {
					t.Fatalf("RecvMsg = %v", err)
				}
				return End{Err: errUnavailable, Cause: Recv}
			},
		},
		{
			name: "the caller's end before the commit",
			act: func(_ *testing.T, _ *Stream, _ *committingStream, cancelCaller context.CancelFunc) End {
				cancelCaller()
				return End{Err: context.Canceled, Cause: Caller}
			},
		},
		{
			name: "the caller's end under the first RecvMsg, which returns a message", commits: true,
			act: func(_ *testing.T, w *Stream, c *committingStream, cancelCaller context.CancelFunc) End {
				done := make(chan struct{})
				go func() {
					defer close(done)
					_ = w.RecvMsg(nil)
				}()
				synctest.Wait() // RecvMsg waits for the message.
				cancelCaller()
				synctest.Wait()
				c.recv <- nil
				<-done
				return End{Err: context.Canceled, Cause: Caller}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				caller, cancel := context.WithCancel(context.Background())
				defer cancel()
				c := &committingStream{fakeStream: newFake(caller)}
				defer c.finish()
				w := Watch(caller, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, c)
				r := newRecorder()
				w.OnEnd(r.f)
				if c.ctxCalls.Load() != 0 {
					t.Fatal("Watch read the stream's Context")
				}
				want := tt.act(t, w, c, cancel)
				synctest.Wait()
				if c.early.Load() {
					t.Error("the stream's Context was read before a RecvMsg or Header")
				}
				if got := c.ctxCalls.Load() != 0; got != tt.commits {
					t.Errorf("the stream's Context was read: %v, want %v", got, tt.commits)
				}
				// Every other end comes now; none may run the func again.
				cancel()
				c.finish()
				c.recv <- io.EOF
				_ = w.RecvMsg(nil)
				synctest.Wait()
				if e := r.snapshot(); len(e) != 1 || e[0] != want {
					t.Fatalf("ends = %+v, want [%+v]", e, want)
				}
			})
		})
	}
}
