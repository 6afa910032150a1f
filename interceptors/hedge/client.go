package hedge

import (
	"context"

	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
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

// callSettings returns the settings of one call: the policy's own, or a copy changed by the
// hedge Options among the call options. Without hedge Options it does not allocate.
func (p *Policy) callSettings(opts []grpc.CallOption) *settings {
	return calloption.Settings(&p.s, opts, Option.change)
}

// Unary returns the policy as a unary client interceptor. Every attempt goes through the rest
// of the chain (invoker) with the caller's call options; see the package documentation for
// how attempts are started, raced and ended.
func (p *Policy) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		cs := p.callSettings(opts)
		if cs.disabled {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		m := p.method(method)
		msg, ok := reply.(proto.Message)
		if !ok || !p.eligible(m, cs) {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		c := p.newCall(ctx, m, cs, msg)
		c.method, c.req, c.cc, c.invoker, c.opts = method, req, cc, invoker, opts
		actx, cancel := context.WithCancel(ctx)
		c.begin(cancel)
		opts1 := c.firstOpts(opts)
		returned := false
		defer func() {
			if !returned {
				// Attempt 1 panicked: the panic goes on to the caller, once the hedges
				// have been canceled and have returned. The call is not reused.
				c.unwind()
				cancel()
			}
		}()
		err := invoker(actx, method, req, reply, cc, opts1...)
		returned = true
		c.finish(1, c.start, err, nil, c.firstTrailer(opts))
		_, err = c.wait(err)
		cancel()
		pv, panicked := c.raised()
		c.release()
		if panicked {
			panic(pv) // a hedge's, raised here as attempt 1's would be
		}
		return err
	}
}
