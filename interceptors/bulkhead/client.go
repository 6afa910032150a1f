package bulkhead

import (
	"context"
	"errors"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/streamend"
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
		opened := false
		defer func() {
			if !opened { // streamer failed or panicked
				b.releaseFixed()
			}
		}()
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		w := streamend.Watch(ctx, desc, cs)
		w.OnEnd(func(streamend.End) { b.releaseFixed() })
		opened = true
		return w, nil
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
		start := b.clock.Now()
		returned := false
		defer func() {
			if !returned { // streamer panicked
				b.finish(method, sampleNone, 0, time.Time{})
			}
		}()
		cs, err := streamer(ctx, desc, cc, method, opts...)
		returned = true
		if err != nil {
			now := b.clock.Now()
			b.finish(method, b.classify(err), now.Sub(start), now)
			return nil, err
		}
		w := streamend.Watch(ctx, desc, cs)
		w.OnEnd(func(e streamend.End) {
			kind := sampleNone // A send failure is this side's: it says nothing of the queue.
			if e.Cause != streamend.Send {
				kind = b.classify(e.Err)
			}
			now := b.clock.Now()
			b.finish(method, kind, now.Sub(start), now)
		})
		return w, nil
	}
}
