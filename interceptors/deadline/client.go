package deadline

import (
	"context"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"google.golang.org/grpc"
)

// UnaryClientInterceptor returns New(cfg, opts...).Unary(), or the error of New. The deadline
// policy keeps no per-target state, so it takes no name.
func UnaryClientInterceptor(cfg Config, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	return optkit.Unary(New(cfg, opts...))
}

// StreamClientInterceptor returns New(cfg, opts...).Stream(), or the error of New.
func StreamClientInterceptor(cfg Config, opts ...Option) (grpc.StreamClientInterceptor, error) {
	return optkit.Stream(New(cfg, opts...))
}

// Unary returns the policy as a unary client interceptor. The context it set is released when
// the invoker returns, or as a panic of it passes on to the caller.
func (p *Policy) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := p.context(ctx, method, opts)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// Stream returns the policy as a stream client interceptor. The deadline bounds the whole
// stream; the context it set is released at the stream's first end (see internal/streamend):
// RecvMsg returns an error or io.EOF, or the one response of a client-streaming call; SendMsg
// or Header fails; the caller's context ends; gRPC finishes the stream once its response has started (or
// the caller asked for its Context), a stream gRPC finishes before that being released when
// its status is read, the caller's context ends, or the deadline passes. A streamer that
// panics releases it too.
func (p *Policy) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		// Deadline, not Context: whether the policy set a deadline is its answer, not a
		// comparison of contexts with ==, which panics on a context type that cannot be
		// compared.
		d, set := p.DeadlineFor(ctx, method, time.Time{}, opts)
		if !set {
			return streamer(ctx, desc, cc, method, opts...)
		}
		nctx, cancel := clock.WithDeadline(ctx, p.clock, d)
		opened := false
		defer func() {
			if !opened {
				cancel() // The streamer panicked: the panic goes on, the context is released.
			}
		}()
		s, err := streamer(nctx, desc, cc, method, opts...)
		opened = true
		if err != nil {
			cancel()
			return nil, err
		}
		w := streamend.WatchDerived(ctx, nctx, desc, s)
		w.OnEndOf(streamend.Cancel(cancel)) // No closure: no allocation.
		return w, nil
	}
}
