package bulkhead

import (
	"context"
	"errors"
	"sync/atomic"

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
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := b.acquire(ctx, method, callMaxWait(b.maxWait, opts)); err != nil {
			return grpcError(err)
		}
		defer b.Release()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// Stream returns an interceptor that holds a slot of b from stream open until the stream ends
// (see the package documentation for what ends it).
func (b *Bulkhead) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err := b.acquire(ctx, method, callMaxWait(b.maxWait, opts)); err != nil {
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
		s.b.Release()
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
