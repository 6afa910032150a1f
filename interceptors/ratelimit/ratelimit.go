package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/optkit"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// Policy applies a Limiter to the calls of one service. It is safe for concurrent use.
type Policy struct {
	service string
	limited error // the Err of a refusal for want of a token: ErrLimited, or sharedLimited
	lim     Limiter
	local   *Local // lim, when it is a bucket of this process on the policy's clock (see EnterAt)
	// conn is lim when it is a ConnLimiter (a Local, redislimit's), whose wait a ClientConn's
	// shutdown ends: what EnterConn and a stream's open take their token with.
	conn    ConnLimiter
	maxWait time.Duration
	clock   clock.Clock
	sink    observe.Sink
}

// New returns the policy named name (the fully qualified gRPC service it guards, put in
// rejections and events). With a nil l (a nil *Local too) it builds the bucket from cfg, which
// must then be valid: from the registry given by WithRegistry when cfg.Shared is set (without a
// registry that is an error), else a Local of its own; cfg.Redis needs a fleet-wide Limiter
// passed as l. With l given, only cfg.MaxWait and cfg.Shared are read: a refusal for want of
// a token names the shared bucket (see sharedLimited), which l is taken to be. An l of another type that holds a nil
// pointer (or func, map, ...), which would panic at the first call, is an error.
func New(name string, l Limiter, cfg Config, opts ...Option) (*Policy, error) {
	o := buildOptions(opts)
	if err := o.CheckTypedNil(); err != nil {
		return nil, err
	}
	if cfg.MaxWait < 0 {
		return nil, fielderr.New("max_wait", cfg.MaxWait, "is negative")
	}
	if loc, ok := l.(*Local); ok && loc == nil {
		l = nil // a *Local variable left unset: New would read its clock
	} else if optkit.TypedNil(l) {
		return nil, fmt.Errorf("ratelimit: %s: %w", name, &fielderr.Error{Path: "limiter", Value: fmt.Sprintf("a nil %T", l),
			Rule: "is a typed nil, which panics at the first call; pass nil for a bucket built from the Config"})
	}
	if l == nil {
		var err error
		if l, err = bucket(name, cfg, o); err != nil {
			return nil, err
		}
	}
	p := &Policy{service: name, limited: ErrLimited, lim: l, maxWait: cfg.MaxWait, clock: o.Clock, sink: o.Sink}
	if cfg.Shared != "" {
		p.limited = &sharedLimited{msg: ErrLimited.Error() + " by shared bucket " + strconv.Quote(cfg.Shared)}
	}
	p.conn, _ = l.(ConnLimiter)
	if loc, ok := l.(*Local); ok && clock.Same(clock.OrReal(loc.clock), clock.OrReal(p.clock)) {
		p.local = loc
	}
	return p, nil
}

// bucket is New's bucket built from cfg, which must be valid: the registry's shared one when
// cfg.Shared is set, else a Local of its own.
func bucket(name string, cfg Config, o options) (Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Redis != nil {
		return nil, fmt.Errorf("ratelimit: %s: a redis limit needs a fleet-wide Limiter given to New", name)
	}
	if cfg.Shared != "" {
		if o.registry == nil {
			return nil, fmt.Errorf("ratelimit: %s: shared bucket %q needs a Registry (WithRegistry)", name, cfg.Shared)
		}
		return o.registry.Local(cfg)
	}
	return NewLocal(cfg.Rate, cfg.Burst, WithClock(o.Clock)), nil
}

// Limiter returns the policy's limiter.
func (p *Policy) Limiter() Limiter { return p.lim }

// Allow takes a token for one call, waiting as the policy's MaxWait allows. It returns nil when
// the call may proceed, a *codes.Rejection when it may not, or ctx.Err() when the context had
// ended before the take (no token is taken) or ended during the wait.
func (p *Policy) Allow(ctx context.Context) error { return p.allow(ctx, "", p.maxWait) }

func (p *Policy) allow(ctx context.Context, method string, maxWait time.Duration) error {
	d, err := p.lim.Take(ctx, maxWait)
	return p.decided(ctx, method, d, err)
}

// decided is the outcome of a call whose take of a token returned d and err (see allow).
func (p *Policy) decided(ctx context.Context, method string, d Decision, err error) error {
	if err == nil && d.Allowed {
		return nil
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return ctxErr
		}
		if errors.Is(err, ErrConnClosing) { // a wait that its ClientConn's shutdown ended
			return ErrConnClosing
		}
		return p.reject(method, &codes.Rejection{
			Err:    fmt.Errorf("%w: %w", ErrUnavailable, err),
			Code:   grpccodes.Unavailable,
			Reason: ReasonUnavailable,
		})
	}
	return p.reject(method, &codes.Rejection{
		Err:        p.limited,
		Code:       grpccodes.ResourceExhausted,
		Reason:     ReasonLimited,
		RetryAfter: d.RetryAfter,
	})
}

func (p *Policy) reject(method string, r *codes.Rejection) error {
	r.Policy = observe.PolicyRateLimit
	r.Service = p.service
	return outcome.Reject(p.sink, p.clock, method, r, 0)
}
