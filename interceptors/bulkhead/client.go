package bulkhead

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor returns an interceptor that runs every unary call inside b.
func UnaryClientInterceptor(b *Bulkhead) grpc.UnaryClientInterceptor { return b.Unary() }

// StreamClientInterceptor returns an interceptor that holds a slot of b for the life of every
// stream.
func StreamClientInterceptor(b *Bulkhead) grpc.StreamClientInterceptor { return b.Stream() }

// Unary returns an interceptor that holds a slot of b while the call runs. The slot is given
// back when the invoker returns or panics.
func (b *Bulkhead) Unary() grpc.UnaryClientInterceptor {
	if b.ad != nil {
		return b.unaryAdaptive()
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := b.acquireFixed(ctx, method, callMaxWait(b.maxWait, opts)); err != nil {
			return grpcError(err)
		}
		defer b.releaseFixed()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// Stream returns an interceptor that holds a slot of b from stream open until the stream ends
// (see the package documentation for what ends it).
func (b *Bulkhead) Stream() grpc.StreamClientInterceptor {
	if b.ad != nil {
		return b.streamAdaptive()
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err := b.acquireFixed(ctx, method, callMaxWait(b.maxWait, opts)); err != nil {
			return nil, grpcError(err)
		}
		s := &stream{b: b, serverStreams: desc.ServerStreams}
		opened := false
		defer func() {
			if !opened { // streamer failed or panicked
				s.release()
			}
		}()
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		s.ClientStream = cs
		s.stop = context.AfterFunc(cs.Context(), func() { s.release() })
		opened = true
		return s, nil
	}
}

// grpcError turns a context error into the status a gRPC caller expects; rejections are
// statuses already.
func grpcError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return err
}

// stream gives its slot back exactly once, whichever end comes first.
type stream struct {
	grpc.ClientStream
	b             *Bulkhead
	serverStreams bool
	stop          func() bool // stops the context.AfterFunc; set before the stream is returned
	released      atomic.Bool
}

func (s *stream) release() {
	if s.released.CompareAndSwap(false, true) {
		s.b.releaseFixed()
	}
}

func (s *stream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		// An error (io.EOF included) ends the stream; so does the one reply of a stream that
		// is not server-streaming.
		s.release()
		s.stop()
	}
	return err
}

// unaryAdaptive is Unary in adaptive mode: the call's latency, from the slot taken to the
// invoker's return, and its outcome are the sample. A panicking call gives no sample.
func (b *Bulkhead) unaryAdaptive() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := b.acquireAdaptive(ctx, method, callMaxWait(b.maxWait, opts)); err != nil {
			return grpcError(err)
		}
		start := b.clock.Now()
		returned := false
		defer func() {
			if !returned {
				b.finish(method, sampleNone, 0, time.Time{})
			}
		}()
		err := invoker(ctx, method, req, reply, cc, opts...)
		returned = true
		now := b.clock.Now()
		b.finish(method, b.classify(err), now.Sub(start), now)
		return err
	}
}

// streamAdaptive is Stream in adaptive mode: the sample is the time from the slot taken to the
// end of the stream, with the error that ended it (io.EOF is a success; a stream ended by its
// context gives that context's error: canceled is no sample, a passed deadline a drop).
func (b *Bulkhead) streamAdaptive() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err := b.acquireAdaptive(ctx, method, callMaxWait(b.maxWait, opts)); err != nil {
			return nil, grpcError(err)
		}
		s := &adaptiveStream{b: b, method: method, start: b.clock.Now(), serverStreams: desc.ServerStreams}
		returned := false
		defer func() {
			if !returned { // streamer panicked
				s.end(sampleNone, nil)
			}
		}()
		cs, err := streamer(ctx, desc, cc, method, opts...)
		returned = true
		if err != nil {
			s.end(b.classify(err), nil)
			return nil, err
		}
		s.ClientStream = cs
		s.stop = context.AfterFunc(cs.Context(), func() { s.end(b.classify(cs.Context().Err()), nil) })
		return s, nil
	}
}

// adaptiveStream gives its slot back, with a sample, exactly once, whichever end comes first.
type adaptiveStream struct {
	grpc.ClientStream
	b             *Bulkhead
	method        string
	start         time.Time
	serverStreams bool
	stop          func() bool
	released      atomic.Bool
}

// end releases the slot with a sample of kind; stop, if not nil, is called after.
func (s *adaptiveStream) end(kind sampleKind, stop func() bool) {
	if s.released.CompareAndSwap(false, true) {
		now := s.b.clock.Now()
		s.b.finish(s.method, kind, now.Sub(s.start), now)
	}
	if stop != nil {
		stop()
	}
}

func (s *adaptiveStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		outcome := err
		if errors.Is(err, io.EOF) {
			outcome = nil
		}
		s.end(s.b.classify(outcome), s.stop)
	}
	return err
}
