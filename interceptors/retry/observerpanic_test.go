package retry

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// unavailableStream is an attempt stream whose RecvMsg fails with Unavailable, a status the
// policy retries.
type unavailableStream struct{ *testkit.ScriptedStream }

func (unavailableStream) RecvMsg(any) error { return status.Error(grpccodes.Unavailable, "down") }

// tooLargeStream is an attempt stream whose SendMsg fails with the client's own error, which
// ends the stream without a retry.
type tooLargeStream struct{ *testkit.ScriptedStream }

func (tooLargeStream) SendMsg(any) error {
	return status.Error(grpccodes.ResourceExhausted, "message larger than max")
}

// TestStreamObserverPanicEndsTheStream: an observer that panics on an event of a stream's
// retry loop (an attempt's AttemptFinished, RetryScheduled, RetriesExhausted, the committed
// attempt's AttemptFinished as the stream ends or as a send fails) is called without the
// stream's mutex held, and its panic, on its way to the caller, ends the stream for good, as a
// panic of an attempt does: the attempt's context and timeout and the budget's context and
// timer are released, and later calls return an error without opening, receiving from or
// retrying an attempt again. The panic used to leave the stream to retry its failed attempt
// at the next RecvMsg, and to leave what it held until the caller's context ended; the
// observer of a failed send was called with the mutex held.
func TestStreamObserverPanicEndsTheStream(t *testing.T) {
	recv := func(cs grpc.ClientStream) { _ = cs.RecvMsg(new(kycv1.CheckResponse)) }
	for _, tc := range []struct {
		name    string
		kind    observe.Kind
		max     int
		recv    grpccodes.Code // what RecvMsg returns after the panic
		attempt func(*testkit.ScriptedStream) grpc.ClientStream
		call    func(grpc.ClientStream)
	}{
		{"AttemptFinished", observe.AttemptFinished, 3, grpccodes.Internal,
			func(s *testkit.ScriptedStream) grpc.ClientStream { return unavailableStream{s} }, recv},
		{"RetryScheduled", observe.RetryScheduled, 3, grpccodes.Internal,
			func(s *testkit.ScriptedStream) grpc.ClientStream { return unavailableStream{s} }, recv},
		{"RetriesExhausted", observe.RetriesExhausted, 1, grpccodes.Internal,
			func(s *testkit.ScriptedStream) grpc.ClientStream { return unavailableStream{s} }, recv},
		{"Committed", observe.AttemptFinished, 3, grpccodes.Internal,
			func(s *testkit.ScriptedStream) grpc.ClientStream { return s }, recv},
		// RecvMsg returns the send's error, which ended the stream before the observer was told.
		{"SendMsg", observe.AttemptFinished, 3, grpccodes.ResourceExhausted,
			func(s *testkit.ScriptedStream) grpc.ClientStream { return tooLargeStream{s} },
			func(cs grpc.ClientStream) { _ = cs.SendMsg(&kycv1.CheckRequest{Index: 0}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			var rs atomic.Pointer[retryStream]
			sink := observe.SinkFunc(func(e observe.Event) {
				if s := rs.Load(); s != nil {
					if !s.mu.TryLock() {
						t.Errorf("the observer was called on %v with the stream's mutex held", e.Kind)
					} else {
						s.mu.Unlock()
					}
				}
				if e.Kind == tc.kind {
					panic("observer boom")
				}
			})
			p, err := New(Config{MaxAttempts: tc.max, Idempotent: true, PerAttemptTimeout: 5 * time.Second, Budget: 10 * time.Second},
				WithClock(clk), WithObserver(sink))
			if err != nil {
				t.Fatal(err)
			}
			var opens atomic.Int32
			var opened context.Context
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				opens.Add(1)
				opened = ctx
				return tc.attempt(testkit.NewScriptedStream(ctx, false)), nil
			}
			cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			rs.Store(cs.(*streamend.Stream).ClientStream.(*retryStream)) // under the wrapper that watches its end
			if n := clk.Timers(); n != 2 {
				t.Fatalf("%d timers after the open, want 2 (the budget's, the attempt's timeout)", n)
			}
			PanicsAndEnds(t, clk, cs, opened, "the observer", "observer boom", tc.call)
			CallsNoMore(t, "RecvMsg", func() {
				if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != tc.recv {
					t.Errorf("RecvMsg after the panic = %v, want %v", err, tc.recv)
				}
			})
			CallsNoMore(t, "SendMsg", func() {
				if err := cs.SendMsg(&kycv1.CheckRequest{Index: 1}); err != io.EOF {
					t.Errorf("SendMsg after the panic = %v, want io.EOF", err)
				}
			})
			if n := opens.Load(); n != 1 {
				t.Errorf("%d attempts opened, want 1: the stream was retried after the observer panicked", n)
			}
		})
	}
}

// An observer that panics on the AttemptFinished of a stream's first attempt, whose open
// failed, makes the interceptor panic, once the stream has released the budget's context and
// timer, instead of leaving them until the caller's context ends.
func TestStreamOpenObserverPanicReleases(t *testing.T) {
	clk := clocktest.New(time.Now())
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.AttemptFinished {
			panic("observer boom")
		}
	})
	p, err := New(Config{MaxAttempts: 3, Idempotent: true, PerAttemptTimeout: 5 * time.Second, Budget: 10 * time.Second},
		WithClock(clk), WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	var opens atomic.Int32
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		opens.Add(1)
		return nil, status.Error(grpccodes.Unavailable, "down")
	}
	func() {
		defer func() {
			if v := recover(); v != "observer boom" {
				t.Fatalf("recovered %v, want the observer's panic", v)
			}
		}()
		_, _ = p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	}()
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers still armed after the observer panicked, want 0", n)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("%d attempts opened, want 1", n)
	}
}

// PanicsAndEnds (tests only) calls call on cs, a stream of the policy on clk whose attempt was
// opened with the context opened, which must panic with want, the panic of who; and checks that
// the stream ended for good first: the attempt's context, every timer of clk (the attempt's
// timeout, the budget's) and the stream's context are released.
func PanicsAndEnds(t *testing.T, clk *clocktest.Fake, cs grpc.ClientStream, opened context.Context, who string, want any, call func(grpc.ClientStream)) {
	t.Helper()
	func() {
		defer func() {
			if v := recover(); v != want {
				t.Fatalf("recovered %v, want the panic of %s, %v", v, who, want)
			}
		}()
		call(cs)
	}()
	if opened.Err() == nil {
		t.Errorf("the attempt's context is still live after %s panicked", who)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers still armed after %s panicked, want 0", n, who)
	}
	if cs.Context().Err() == nil {
		t.Errorf("the stream's context is still live after %s panicked", who)
	}
}

// CallsNoMore (tests only) runs call, a later call (what) of a stream that a panic ended, and
// fails t if it panics: the stream went on with its attempt, or its observer, again.
func CallsNoMore(t *testing.T, what string, call func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s after the panic went on with the stream, which panicked again: %v", what, v)
		}
	}()
	call()
}
