package fallback

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// UnaryClientInterceptor returns New(name, cfg, reply, opts...).Unary(): an interceptor that
// answers the failed unary calls of name with reply. It returns the error of New when the
// fallback cannot be built.
func UnaryClientInterceptor(name string, cfg Config, reply Reply, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	return optkit.Unary(New(name, cfg, reply, opts...))
}

// StreamClientInterceptor returns New(name, cfg, reply, opts...).Stream(): an interceptor that
// answers the failed streams of name, or the error of New.
func StreamClientInterceptor(name string, cfg Config, reply Reply, opts ...Option) (grpc.StreamClientInterceptor, error) {
	return optkit.Stream(New(name, cfg, reply, opts...))
}

// Unary returns an interceptor that answers a covered call's chosen errors with the fallback.
// Calls of other methods, and successful calls, pass through untouched.
func (f *Fallback) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err == nil || !f.Covers(method) {
			return err
		}
		return f.recover(ctx, method, req, reply, err)
	}
}

// Stream returns an interceptor that answers covered client- and server-streaming calls (see
// the package documentation). Bidirectional streams and other methods pass through.
func (f *Fallback) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if !f.Covers(method) || (desc.ClientStreams && desc.ServerStreams) {
			return streamer(ctx, desc, cc, method, opts...)
		}
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			if !f.chosen(f.verdict(ctx, err)) {
				return nil, err
			}
			return &failedStream{ctx: ctx, f: f, method: method, err: err}, nil
		}
		return &stream{ClientStream: cs, ctx: ctx, f: f, method: method, clientStreams: desc.ClientStreams}, nil
	}
}

// stream serves the fallback when the reply fails before any message came.
type stream struct {
	grpc.ClientStream
	ctx           context.Context
	f             *Fallback
	method        string
	clientStreams bool
	received      bool // a message came: later errors are returned as they are
	// served: the fallback was the reply, and the stream's end is the io.EOF that follows.
	// Atomic: Context reads it, and may be called from another goroutine (see Context).
	served atomic.Bool
	// sendFailed: a send failed with an error the fallback answers; gRPC finished the stream
	// there, ending its context, and RecvMsg returns the outcome (see SendMsg). Atomic, as
	// served.
	sendFailed atomic.Bool
}

// Context returns the stream's context: gRPC's, or the caller's once the fallback answered, or
// once a send failed with an error the fallback answers. gRPC ended its own context with the
// stream that failed, while the stream answered goes on to its io.EOF (or, after a failed
// send, to RecvMsg's outcome, the fallback): an interceptor above that watches the stream's
// context for its end (see internal/streamend) would take it for gRPC's end of a stream
// nobody reads, and a caller would see its call done before reading its answer.
func (s *stream) Context() context.Context {
	if s.served.Load() || s.sendFailed.Load() {
		return s.ctx
	}
	return s.ClientStream.Context()
}

// SendMsg returns, in place of an error the fallback answers, what gRPC's returns for a stream
// whose status RecvMsg returns: io.EOF for a client-streaming call, nil for a server-streaming
// one (its generated code returns SendMsg's error as the call's). RecvMsg (CloseAndRecv) then
// returns the outcome, there the fallback (gRPC returns the send's error from RecvMsg too).
// Returned as it is, the error would be the call's outcome for the caller that stops at it and
// for the interceptors above, which take a send's error for the stream's end, while the
// caller that goes on to RecvMsg got the fallback.
func (s *stream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err == nil || errors.Is(err, io.EOF) || !s.f.chosen(s.f.verdict(s.ctx, err)) {
		return err
	}
	s.sendFailed.Store(true)
	if !s.clientStreams {
		return nil
	}
	return io.EOF
}

func (s *stream) RecvMsg(m any) error {
	if s.served.Load() {
		return io.EOF
	}
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		s.received = true
		return nil
	case s.received || errors.Is(err, io.EOF):
		return err
	}
	if err := s.f.recover(s.ctx, s.method, nil, m, err); err != nil {
		return err
	}
	s.served.Store(true)
	return nil
}

// failedStream stands in for a stream that could not be opened: it discards what is sent and
// answers the fallback once, then io.EOF.
type failedStream struct {
	ctx    context.Context
	f      *Fallback
	method string
	err    error
	served bool
}

func (s *failedStream) Header() (metadata.MD, error) { return nil, nil }
func (s *failedStream) Trailer() metadata.MD         { return nil }
func (s *failedStream) CloseSend() error             { return nil }
func (s *failedStream) Context() context.Context     { return s.ctx }
func (s *failedStream) SendMsg(any) error            { return nil }

func (s *failedStream) RecvMsg(m any) error {
	if s.served {
		return io.EOF
	}
	if err := s.f.recover(s.ctx, s.method, nil, m, s.err); err != nil {
		return err
	}
	s.served = true
	return nil
}
