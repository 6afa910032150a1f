package deadline

import (
	"context"
	"sync"

	"google.golang.org/grpc"
)

// UnaryClientInterceptor returns New(cfg, opts...).Unary(), or the error of New.
func UnaryClientInterceptor(cfg Config, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	p, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return p.Unary(), nil
}

// StreamClientInterceptor returns New(cfg, opts...).Stream(), or the error of New.
func StreamClientInterceptor(cfg Config, opts ...Option) (grpc.StreamClientInterceptor, error) {
	p, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return p.Stream(), nil
}

// Unary returns the policy as a unary client interceptor.
func (p *Policy) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := p.Context(ctx, method)
		err := invoker(ctx, method, req, reply, cc, opts...)
		cancel()
		return err
	}
}

// Stream returns the policy as a stream client interceptor. The deadline bounds the whole
// stream; the context it set is released when the stream ends (RecvMsg returns an error, or
// the one response of a client-streaming call).
func (p *Policy) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		nctx, cancel := p.Context(ctx, method)
		if nctx == ctx {
			return streamer(ctx, desc, cc, method, opts...)
		}
		s, err := streamer(nctx, desc, cc, method, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		return &stream{ClientStream: s, serverStreams: desc.ServerStreams, cancel: cancel}, nil
	}
}

// stream releases the deadline's context once the stream is over.
type stream struct {
	grpc.ClientStream
	serverStreams bool
	once          sync.Once
	cancel        func()
}

func (s *stream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		s.once.Do(s.cancel)
	}
	return err
}
