package retry

import (
	"context"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// UnaryClientInterceptor returns New(cfg, opts...).Unary(), or the error of New.
func UnaryClientInterceptor(cfg Config, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	return attempt.UnaryOf(New(cfg, opts...))
}

// StreamClientInterceptor returns New(cfg, opts...).Stream(), or the error of New.
func StreamClientInterceptor(cfg Config, opts ...Option) (grpc.StreamClientInterceptor, error) {
	return attempt.StreamOf(New(cfg, opts...))
}

// unaryCall is one call through the unary interceptor: its retry loop, what its attempts
// continue with, and their call options (the caller's, the attempt's Round for a hedging
// policy below and, when a retry could follow, a trailer option of its own). Pooled, so that a
// call allocates nothing for them, and off the stack, which every attempt goes deeper than.
type unaryCall struct {
	c          call // the call's options for the policy
	loop       loop
	method     string
	req, reply any
	cc         *grpc.ClientConn
	invoker    grpc.UnaryInvoker
	callerOpts []grpc.CallOption
	md         metadata.MD
	round      attempt.Round
	opts       []grpc.CallOption
}

var unaryCallPool = sync.Pool{New: func() any { return new(unaryCall) }}

// attempt is the call's attemptFunc.
func (u *unaryCall) attempt(actx context.Context, cancel context.CancelFunc, prev int, more bool) (metadata.MD, int, error) {
	u.round.Reset(prev, cancel)
	u.opts = append(append(u.opts[:0], u.callerOpts...), &u.round)
	if more {
		// Only when a retry could follow: grpc copies the trailer for the option, and its
		// pushback would go unread.
		u.opts = append(u.opts, grpc.Trailer(&u.md))
	}
	err := u.invoker(actx, u.method, u.req, u.reply, u.cc, u.opts...)
	md, reported := u.md, u.round.Reported()
	u.md = nil
	u.round.Reset(0, nil)
	clear(u.opts)
	u.opts = u.opts[:0]
	return md, reported, err
}

// release returns u to the pool, holding nothing of its call.
func (u *unaryCall) release() {
	u.c, u.loop = call{}, loop{}
	u.method, u.req, u.reply, u.cc, u.invoker, u.callerOpts = "", nil, nil, nil, nil, nil
	unaryCallPool.Put(u)
}

// Unary returns the policy as a unary client interceptor. Every attempt goes through the rest
// of the chain (invoker) with the caller's call options and, when a retry could follow it, a
// trailer option of its own, so that grpc-retry-pushback-ms is read.
func (p *Policy) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return p.InvokeTimed(ctx, nil, time.Time{}, method, req, reply, cc, invoker, opts...)
	}
}

// InvokeWithin is the unary interceptor's work for one call with a deadline declared for the
// whole call that ctx does not carry: a deadline step folded into the retry loop. Each attempt's
// single context then ends by the earliest of the declared deadline, the budget, the
// per-attempt timeout and ctx's own deadline, instead of nesting a context for the declared
// deadline around the loop; the deadline the server sees is the same. When the declared
// deadline ends the call, the call ends as one whose deadline expired (not retried,
// ReasonDeadline). A zero declared is Unary's behaviour.
//
// With the policy disabled for the call (Disable), the declared deadline is put in a context
// around the call.
func (p *Policy) InvokeWithin(ctx context.Context, declared time.Time, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return p.InvokeTimed(ctx, nil, declared, method, req, reply, cc, invoker, opts...)
}

// InvokeTimed is InvokeWithin for a call that the caller times too: t, when not nil, gives the
// call's start and gets its end (see section.Timing), so that the clock is read once for both.
// With the policy disabled for the call, t is left as it is.
func (p *Policy) InvokeTimed(ctx context.Context, t *section.Timing, declared time.Time, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return p.InvokeKept(ctx, t, declared, 0, method, req, reply, cc, invoker, opts...)
}

// InvokeKept is InvokeTimed for a call whose every attempt grpc itself ends after kept (the
// timeout of the method's config, which grpc applies to each stream it opens; 0: none), and
// whose attempts reach grpc at once (nothing between the loop and grpc waits). When kept is
// the per-attempt timeout and the call's other ends are well after the attempt's, the loop
// makes no context of its own for the attempt: grpc's, which it makes for every call anyway,
// keeps the same deadline, and the server sees the same. The caller (a suite's runner) vouches
// for kept and for what lies between; with any other clock than the real one kept is ignored.
func (p *Policy) InvokeKept(ctx context.Context, t *section.Timing, declared time.Time, kept time.Duration, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	u := unaryCallPool.Get().(*unaryCall)
	u.method, u.req, u.reply, u.cc, u.invoker, u.callerOpts = method, req, reply, cc, invoker, opts
	if u.c.read(opts); u.c.Disabled {
		return p.invokeDisabled(ctx, declared, u)
	}
	err := p.run(&u.loop, ctx, t, declared, kept, p.method(method), &u.c, u.attempt)
	u.release() // Not when an attempt panics: the pool does without u.
	return err
}

// invokeDisabled is u, a call made with Disable: one attempt, the declared deadline, if any,
// in a context of its own. Apart from InvokeTimed, whose frame every attempt's stack holds.
func (p *Policy) invokeDisabled(ctx context.Context, declared time.Time, u *unaryCall) error {
	if !declared.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = clock.WithDeadline(ctx, p.s.Clock, declared)
		defer cancel()
	}
	method, req, reply, cc, invoker, opts := u.method, u.req, u.reply, u.cc, u.invoker, u.callerOpts
	u.release()
	return invoker(ctx, method, req, reply, cc, opts...)
}
