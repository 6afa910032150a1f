package fallback

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
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
//
// A covered stream opened on a ClientConn is watched (internal/streamend) for its end and for
// its ClientConn's shutdown, so that a stream the fallback answers, or stands in for, ends
// when its ClientConn shuts down, as gRPC's streams do (see the package documentation). A
// policy above that watches the stream for the same context (the suite's observer) shares the
// wrapper.
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
			fs := &failedStream{ctx: ctx, f: f, method: method, err: err}
			if cc == nil { // No ClientConn to end with: the caller's context is the stream's.
				fs.own = ctx
				return fs, nil
			}
			var cancel context.CancelFunc
			fs.own, cancel = context.WithCancel(ctx)
			fs.cancel = cancel
			w := streamend.Watch(ctx, desc, fs)
			w.OnEndOf(streamend.Cancel(cancel)) // released with the stream
			w.WatchConn(cc)                     // its shutdown ends fs.own (see ConnClosed)
			return w, nil
		}
		s := &stream{ClientStream: cs, ctx: ctx, f: f, method: method, clientStreams: desc.ClientStreams}
		if cc == nil {
			return s, nil
		}
		s.w = streamend.Watch(ctx, desc, s)
		s.w.WatchConn(cc) // its shutdown ends the context of a stream answered (see ConnClosed)
		return s.w, nil
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

	// w is the wrapper that watches the stream for its end and its ClientConn's shutdown;
	// nil for a stream opened with no ClientConn, whose answered context is the caller's.
	w *streamend.Stream

	mu sync.Mutex
	// own is the context the stream gives once answered (see Context): ctx's child, ended
	// with the stream (w's end) and at the ClientConn's shutdown (ConnClosed). Made by answer,
	// before served or sendFailed is set, and not changed after: Context reads it, once it
	// sees either set, without mu.
	own      context.Context
	cancel   context.CancelFunc // Guarded by mu: own's.
	connDown bool               // Guarded by mu: the ClientConn shut down (ConnClosed).
}

// Context returns the stream's context: gRPC's; or, once the fallback answered or a send
// failed with an error the fallback answers, the caller's, which also ends when the stream's
// ClientConn shuts down (a context of its own, derived from the caller's, for a stream opened
// on a ClientConn). gRPC ended its own context with the stream that failed, while the stream
// answered goes on to its io.EOF (or, after a failed send, to RecvMsg's outcome, the
// fallback): an interceptor above that watches the stream's context for its end (see
// internal/streamend) would take it for gRPC's end of a stream nobody reads, and a caller
// would see its call done before reading its answer. The caller's alone would not end at the
// ClientConn's shutdown, which ends every gRPC stream, so that such an interceptor would hold
// a stream nobody reads past it.
func (s *stream) Context() context.Context {
	if s.served.Load() || s.sendFailed.Load() {
		if s.own != nil {
			return s.own
		}
		return s.ctx
	}
	return s.ClientStream.Context()
}

// answer makes the context the stream gives once answered (see own), unless it exists or the
// stream has no ClientConn; it is released at the stream's end, or now when the ClientConn
// shut down already. Called before served or sendFailed is set.
func (s *stream) answer() {
	if s.w == nil {
		return
	}
	s.mu.Lock()
	if s.own != nil {
		s.mu.Unlock()
		return
	}
	own, cancel := context.WithCancel(s.ctx)
	s.own, s.cancel = own, cancel
	down := s.connDown
	s.mu.Unlock()
	if down {
		cancel()
	}
	s.w.OnEndOf(streamend.Cancel(cancel)) // no closure: no allocation
}

// ConnClosed runs when the stream's ClientConn has shut down (internal/streamend, once, before
// the stream ended): the context of a stream answered ends, as gRPC's streams' do, so that the
// stream ends (streamend's Transport, as abandoned) though nobody reads it and its caller's
// context lives on. A stream not answered yet is gRPC's, whose context gRPC ends itself; one
// answered later gets a context ended already. What RecvMsg returns is not changed: as gRPC
// keeps a stream's status that came before the shutdown, the fallback, then io.EOF.
func (s *stream) ConnClosed() {
	s.mu.Lock()
	s.connDown = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
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
	s.answer()
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
	s.answer()
	s.served.Store(true)
	return nil
}

// failedStream stands in for a stream that could not be opened: it discards what is sent and
// answers the fallback once, then io.EOF.
type failedStream struct {
	ctx    context.Context // the caller's
	f      *Fallback
	method string
	err    error
	served bool
	// own is the stream's context: ctx's child, ended with the stream and at its ClientConn's
	// shutdown (ConnClosed, with cancel); ctx itself for a stream opened with no ClientConn.
	own    context.Context
	cancel context.CancelFunc
}

func (s *failedStream) Header() (metadata.MD, error) { return nil, nil }
func (s *failedStream) Trailer() metadata.MD         { return nil }
func (s *failedStream) CloseSend() error             { return nil }
func (s *failedStream) Context() context.Context     { return s.own }
func (s *failedStream) SendMsg(any) error            { return nil }

// ConnClosed ends the stream's context when its ClientConn has shut down (see
// stream.ConnClosed): the stream ends, as abandoned, though nobody reads it; RecvMsg still
// answers the fallback, the stream's outcome since it could not be opened.
func (s *failedStream) ConnClosed() {
	if s.cancel != nil {
		s.cancel()
	}
}

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
