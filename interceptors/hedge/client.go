package hedge

import (
	"context"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// UnaryClientInterceptor returns New(cfg, opts...).Unary(), or the error of New.
func UnaryClientInterceptor(cfg Config, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	return attempt.UnaryOf(New(cfg, opts...))
}

// StreamClientInterceptor returns New(cfg, opts...).Stream(), or the error of New.
func StreamClientInterceptor(cfg Config, opts ...Option) (grpc.StreamClientInterceptor, error) {
	return attempt.StreamOf(New(cfg, opts...))
}

// Unary returns the policy as a unary client interceptor. Every attempt goes through the rest
// of the chain (invoker) with the caller's call options; see the package documentation for
// how attempts are started, raced and ended.
//
// Attempt 1 runs on the caller's context with a cancel of its own, for a hedge that wins to
// end it. Under a retry loop that gave the attempt a context of its own (attempt.Round), that
// context's cancel serves, and no second context is made.
func (p *Policy) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		c, actx, cancel := p.prepare(ctx, method, req, reply, cc, invoker, opts)
		if c == nil {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		decided := false
		defer func() {
			if !decided {
				// Attempt 1 panicked, or what ran for it here once it returned (the observer,
				// the classifier): the panic goes on to the caller, once the hedges have been
				// canceled and have returned, and the caller's grpc.OnFinish callbacks, which
				// no attempt was given, have run (with calloption.ErrPanicked). The call is
				// not reused.
				c.unwind()
				cancel()
				if c.onFinish {
					calloption.Panicked(c.opts)
				}
			}
		}()
		err := c.decide(invoker(actx, method, req, reply, cc, c.first...))
		decided = true
		return c.end(err, cancel)
	}
}

// prepare sets up a unary call to be hedged and begins it: the call, attempt 1's context and
// its cancel. It returns a nil call for a call that is not hedged (Disable, a method that may
// not be, a reply that is not a proto.Message). Apart from the interceptor, whose frame stays
// on the stack under attempt 1.
//
//go:noinline
func (p *Policy) prepare(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) (*call, context.Context, context.CancelFunc) {
	pc := callOf(opts)
	if pc.Disabled {
		return nil, nil, nil
	}
	m := p.method(method)
	msg, ok := reply.(proto.Message)
	if !ok || !p.eligible(m, &pc) {
		return nil, nil, nil
	}
	c := p.newCall(ctx, m, &pc, opts, msg)
	c.method, c.req, c.cc, c.invoker, c.opts = method, req, cc, invoker, opts
	actx, cancel := ctx, context.CancelFunc(nil)
	if c.round != nil {
		cancel = c.round.Cancel()
	}
	if cancel != nil {
		c.shared = true
	} else {
		actx, cancel = context.WithCancel(ctx)
	}
	c.first = c.firstOpts(opts) // before begin arms the hedges' timer: they read c.onFinish
	c.begin(cancel, time.Time{})
	return c, actx, cancel
}

// decide decides a unary call whose attempt 1 returned err: it finishes attempt 1, waits for
// the hedges, and returns the call's error. A winning hedge's HedgeWon is sent once its reply
// is the caller's: a panic of the observer on it leaves the caller with the winner's reply.
func (c *call) decide(err error) error {
	c.finish(1, c.start, err, nil, c.firstTrailer(c.opts))
	n, err := c.wait(err)
	c.hedgeWon(n)
	return err
}

// end ends a unary call that decide decided with err: it ends attempt 1's context unless it is
// shared, calls the caller's grpc.OnFinish options with err (once for the call, where grpc
// would call them once per attempt), releases the call, and raises a hedge's panic as attempt
// 1's, having called them with calloption.ErrPanicked, as for attempt 1's.
func (c *call) end(err error, cancel context.CancelFunc) error {
	if !c.shared {
		cancel()
	}
	pv, panicked := c.raised()
	if c.onFinish {
		if panicked {
			calloption.Panicked(c.opts)
		} else {
			calloption.OnFinish(c.opts, err)
		}
	}
	c.release()
	if panicked {
		panic(pv) // a hedge's, raised here as attempt 1's would be
	}
	return err
}
