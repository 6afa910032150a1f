package ratelimit

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor returns an interceptor that takes a token of p for every unary call.
func UnaryClientInterceptor(p *Policy) grpc.UnaryClientInterceptor { return p.Unary() }

// StreamClientInterceptor returns an interceptor that takes a token of p for every stream open.
func StreamClientInterceptor(p *Policy) grpc.StreamClientInterceptor { return p.Stream() }

// Unary returns an interceptor that takes one token per call.
func (p *Policy) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := p.allow(ctx, method, callMaxWait(p.maxWait, opts)); err != nil {
			return grpcError(err)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// Stream returns an interceptor that takes one token when a stream opens.
func (p *Policy) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err := p.allow(ctx, method, callMaxWait(p.maxWait, opts)); err != nil {
			return nil, grpcError(err)
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

// grpcError turns a context error into the status a gRPC caller expects.
func grpcError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if _, isStatus := err.(interface{ GRPCStatus() *status.Status }); !isStatus {
			return status.FromContextError(err).Err()
		}
	}
	return err
}
