package throttle

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/codes"
	"google.golang.org/grpc"
)

// Unary returns a unary client interceptor that throttles every call with t. A throttled call
// returns the *codes.Rejection without reaching the service. The outcome is recorded when the
// invoker returns; a call whose context the caller cancelled counts as nothing, and so does a
// call whose invoker panics (the panic goes on). A call made with the Disable call option
// bypasses t.
func (t *Throttle) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		disabled, classifier := callSettings(t.classifier, opts)
		if disabled {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		if err := t.Allow(method); err != nil {
			return err
		}
		err := invoker(ctx, method, req, reply, cc, opts...)
		t.record(classOf(ctx, err, classifier))
		return err
	}
}

// classOf classifies a call's outcome: the caller's cancellation is Canceled whatever the
// error says, as the call's end says nothing about the service then.
func classOf(ctx context.Context, err error, c *codes.Classifier) codes.Class {
	if err == nil {
		return codes.Success
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return codes.Canceled
	}
	return c.Classify(err).Class
}

// Stream returns a stream client interceptor that throttles every stream with t. Admission is
// decided when the stream opens; its outcome is recorded once, at the first of: opening fails;
// SendMsg fails other than with io.EOF; RecvMsg returns an error (io.EOF, the normal end, is
// an accept); RecvMsg returns the single reply of a stream that is not server-streaming (an
// accept); the caller's context ends (cancelled: counts as nothing; deadline passed: classified
// as DeadlineExceeded is, a request that is not an accept by default). A stream that gRPC ends
// while the caller reads neither its end nor cancels counts as nothing. A stream opened with the
// Disable call option bypasses t.
func (t *Throttle) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		disabled, classifier := callSettings(t.classifier, opts)
		if disabled {
			return streamer(ctx, desc, cc, method, opts...)
		}
		if err := t.Allow(method); err != nil {
			return nil, err
		}
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			t.record(classOf(ctx, err, classifier))
			return nil, err
		}
		s := &stream{ClientStream: cs, t: t, ctx: ctx, classifier: classifier, serverStreams: desc.ServerStreams}
		// The stream's own context ends with the caller's, and also whenever gRPC finishes the
		// stream, so the callback never outlives the stream.
		s.stop = context.AfterFunc(cs.Context(), s.ended)
		return s, nil
	}
}

// stream records the outcome of one throttled stream, once.
type stream struct {
	grpc.ClientStream
	t             *Throttle
	ctx           context.Context // The caller's context: gRPC cancels the stream's on every end.
	classifier    *codes.Classifier
	serverStreams bool
	stop          func() bool
	done          atomic.Bool
}

func (s *stream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		// The stream failed on this side (io.EOF means the server ended it: its status comes
		// from RecvMsg).
		s.finish(classOf(s.ctx, err, s.classifier))
	}
	return err
}

func (s *stream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		if !s.serverStreams {
			s.finish(codes.Success) // The one reply of a stream that is not server-streaming.
		}
	case errors.Is(err, io.EOF):
		s.finish(codes.Success)
	default:
		s.finish(classOf(s.ctx, err, s.classifier))
	}
	return err
}

// ended runs when the stream's context is done. When the caller's context ended, the stream
// was abandoned: a cancellation counts as nothing, an expired deadline is classified. When only
// gRPC's side ended it, the outcome is RecvMsg's to report, and it is left to RecvMsg.
func (s *stream) ended() {
	if err := s.ctx.Err(); err != nil {
		s.settle(classOf(s.ctx, err, s.classifier))
	}
}

// finish records the outcome on the caller's side, and stops the context callback.
func (s *stream) finish(class codes.Class) {
	if s.settle(class) {
		s.stop()
	}
}

// settle records the outcome unless one was recorded already, and reports whether it did. It
// does not touch stop: the context callback may run before Stream has set it.
func (s *stream) settle(class codes.Class) bool {
	if !s.done.CompareAndSwap(false, true) {
		return false
	}
	s.t.record(class)
	return true
}
