package ratelimit

import (
	"context"
	"errors"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor returns New(name, l, cfg, opts...).Unary(): an interceptor that takes
// a token of a policy of its own for every unary call. It returns the error of New when the
// policy cannot be built. To share one Policy between interceptors, build it with New and use
// its Unary and Stream methods.
func UnaryClientInterceptor(name string, l Limiter, cfg Config, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	return optkit.Unary(New(name, l, cfg, opts...))
}

// StreamClientInterceptor returns New(name, l, cfg, opts...).Stream(): an interceptor that
// takes a token for every stream open, or the error of New.
func StreamClientInterceptor(name string, l Limiter, cfg Config, opts ...Option) (grpc.StreamClientInterceptor, error) {
	return optkit.Stream(New(name, l, cfg, opts...))
}

// Unary returns an interceptor that takes one token per call.
func (p *Policy) Unary() grpc.UnaryClientInterceptor {
	return section.Interceptor(p)
}

// InvokeStep is Unary's work for one call, continued by next (see section.UnaryStep).
func (p *Policy) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeConnGate(p, ctx, method, req, reply, cc, opts, next)
}

// Enter takes one token for a call (see section.Gate), waiting for it up to the call's max wait.
// With a bucket of this process (Local) and a policy whose own MaxWait is 0, which runners enter
// without the ClientConn (Instant), a call that only its WithMaxWait lets wait does not take
// its token here: Enter returns section.ErrNeedsConn, having taken nothing, for the runner to
// enter the policy again with EnterConn, whose wait the ClientConn's shutdown ends (see
// section.ConnGate).
func (p *Policy) Enter(ctx context.Context, method string, opts []grpc.CallOption) (section.Pass, error) {
	maxWait := callMaxWait(p.maxWait, opts)
	if maxWait != p.maxWait && p.needsConn(maxWait) {
		return section.Pass{}, section.ErrNeedsConn
	}
	return p.entered(method, p.allow(ctx, method, maxWait))
}

// needsConn reports, for a call whose max wait, maxWait, its WithMaxWait set to other than
// the policy's own, whether only that option lets the call wait on a policy that a runner
// enters without the ClientConn (one that is Instant for a call without options: a Local
// bucket, a ConnLimiter, and MaxWait 0): such a call is to be entered with its ClientConn
// (see Enter). A call that gives no wait of its own does not reach it. A fleet-wide limiter,
// which runners always enter with the ClientConn, waits in Enter as before.
func (p *Policy) needsConn(maxWait time.Duration) bool {
	return maxWait > 0 && p.Instant(nil)
}

var _ section.ClockedConn = (*Policy)(nil)

// EnterConn is Enter for a call made on cc (see section.ConnGate): with a limiter that is a
// ConnLimiter (a bucket of this process, redislimit's), a wait for a token ends when cc shuts
// down, Canceled; another limiter's Take is given no ClientConn, and its wait does not see the
// shutdown.
func (p *Policy) EnterConn(ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (section.Pass, error) {
	if p.conn == nil {
		return p.Enter(ctx, method, opts)
	}
	d, err := p.conn.TakeConn(ctx, cc, callMaxWait(p.maxWait, opts))
	return p.entered(method, p.decided(ctx, method, d, err))
}

// EnterConnAt is EnterAt for a call made on cc (see section.ClockedConn).
func (p *Policy) EnterConnAt(ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption, now time.Time) (section.Pass, error) {
	if p.local == nil || cc == nil {
		return p.EnterConn(ctx, cc, method, opts)
	}
	d, err := p.local.takeConnAfter(ctx, cc, callMaxWait(p.maxWait, opts), now.Sub(p.local.base))
	return p.entered(method, p.decided(ctx, method, d, err))
}

// entered is Enter's result for allow's error.
func (p *Policy) entered(method string, err error) (section.Pass, error) {
	if err != nil {
		return section.Pass{}, p.refused(method, err)
	}
	return section.Pass{}, nil
}

// refused is the error of a call or stream of method that allow refused with err: a rejection
// as it is, the caller's cancellation as grpc's status, and a deadline that passed while the
// call waited for its token (a fleet-wide store that answered late) as the rejection of a
// token that would come after the deadline, which the bucket gives at once when it can tell
// (as a bulkhead's wait ends at the deadline). The call never reached the service: as a
// context error it would be a transient failure of the service to the policies above that
// learn from outcomes (a breaker, an adaptive throttle), and a slow store would open a healthy
// service's circuit.
func (p *Policy) refused(method string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		if _, isStatus := err.(interface{ GRPCStatus() *status.Status }); !isStatus {
			return p.reject(method, &codes.Rejection{Err: p.limited, Code: grpccodes.ResourceExhausted, Reason: ReasonLimited})
		}
	}
	return grpcError(err)
}

var _ section.Clocked = (*Policy)(nil)

// EnterAt is Enter for a call whose runner read the policy's clock a moment before, at now
// (see section.Clocked): a bucket of this process takes its token at now instead of reading
// the clock again. A fleet-wide limiter reads its store's time, as Enter does.
func (p *Policy) EnterAt(ctx context.Context, method string, opts []grpc.CallOption, now time.Time) (section.Pass, error) {
	if p.local == nil {
		return p.Enter(ctx, method, opts)
	}
	maxWait := callMaxWait(p.maxWait, opts)
	if maxWait != p.maxWait && p.needsConn(maxWait) { // as Enter
		return section.Pass{}, section.ErrNeedsConn
	}
	d, err := p.local.take(ctx, maxWait, now)
	return p.entered(method, p.decided(ctx, method, d, err))
}

// Exit does nothing: a token taken is spent whatever the call's outcome (see section.Gate).
func (p *Policy) Exit(context.Context, string, []grpc.CallOption, section.Pass, error, bool) {}

// Stream returns an interceptor that takes one token when a stream opens. A stream refused
// its token runs the grpc.OnFinish callbacks among its call options with the refusal, as grpc
// would have once the stream ended (as Unary does for a refused call). A hedging policy's
// hedge of a client stream, with this interceptor chained below the hedge's, tells the hedge
// of its wait for a token (see section.AdmitStream), as Unary tells a hedged call's, in a suite
// or outside one: no further hedge is sent while it waits.
func (p *Policy) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if ctx.Err() == nil { // Ended already: no token (see section.InvokeGate).
			if err := section.AdmitStream(p, opts, func() error { return p.allowStream(ctx, cc, method, opts) }); err != nil {
				return nil, err
			}
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

var _ section.StreamWatcher = (*Policy)(nil)

// WatchesStreams marks p as a gate whose stream interceptor tells a hedged stream of its wait
// itself (see section.StreamWatcher).
func (p *Policy) WatchesStreams() {}

// grpcError turns a context error into the status a gRPC caller expects.
func grpcError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if _, isStatus := err.(interface{ GRPCStatus() *status.Status }); !isStatus {
			return status.FromContextError(err).Err()
		}
	}
	return err
}

// Instant reports whether Enter returns at once for a call with opts: with a bucket of this
// process (Local) and a call that may not wait for a token (see section.Instant). A fleet-wide
// limiter asks its store, which is I/O.
func (p *Policy) Instant(opts []grpc.CallOption) bool {
	_, local := p.lim.(*Local)
	return local && callMaxWait(p.maxWait, opts) <= 0
}

// allowStream takes a token for a stream opened with opts on cc (see allow; with a limiter
// that is a ConnLimiter, a wait for a token ends when cc shuts down), and returns the stream's
// refusal (see refused) when it gets none.
func (p *Policy) allowStream(ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption) error {
	var err error
	if p.conn != nil {
		d, terr := p.conn.TakeConn(ctx, cc, callMaxWait(p.maxWait, opts))
		err = p.decided(ctx, method, d, terr)
	} else {
		err = p.allow(ctx, method, callMaxWait(p.maxWait, opts))
	}
	if err != nil {
		err = p.refused(method, err)
	}
	return err
}
