package deadline

import (
	"context"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Policy sets a default deadline on calls that have none and caps deadlines that are too far
// away. It never extends a deadline. A Policy is immutable and safe for concurrent use.
type Policy struct {
	cfg   Config
	clock clock.Clock
	sink  observe.Sink
	// In a suite: the call budget, not the section, set Max (or Default); see ReasonBudget.
	maxByBudget, defaultByBudget bool
}

// reason is r, or ReasonBudget when byBudget.
func (p *Policy) reason(r string, byBudget bool) string {
	if byBudget {
		return ReasonBudget
	}
	return r
}

// The reasons of the DeadlineApplied events a Policy emits, in observe.Event.Reason.
const (
	// ReasonDefault: the call had no deadline; Config.Default was set.
	ReasonDefault = observe.ReasonDefault
	// ReasonCap: the call's deadline was further than Config.Max and was brought in, or the
	// call had none, Config.Default is 0, and Config.Max was set (see the package's rules).
	ReasonCap = observe.ReasonCap
	// ReasonBudget: in a suite, the deadline set (a default or a cap) is the call budget's,
	// which was shorter than the section's, or the only one.
	ReasonBudget = observe.ReasonBudget
)

// New returns a deadline policy for cfg, or the error of cfg.Validate, or an error naming a
// clock or an observer given that holds a nil pointer (a typed nil), which would panic at the
// first call.
func New(cfg Config, opts ...Option) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := optkit.Build(opts, func(o Option) optkit.Option { return o.o })
	if err := o.CheckTypedNil(); err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg, clock: o.Clock, sink: o.Sink}, nil
}

// Config returns the policy's configuration.
func (p *Policy) Config() Config { return p.cfg }

func noop() {}

// Context returns ctx with the policy applied for a call of the full method name: with
// Config.Default as its timeout when ctx has no deadline, with its deadline brought in to
// now+Config.Max when it is further away. The cancel function must be called when the call
// ends. When nothing changes, ctx itself is returned with a no-op cancel, and nothing is
// allocated.
func (p *Policy) Context(ctx context.Context, method string) (context.Context, context.CancelFunc) {
	return p.context(ctx, method, nil)
}

// context is Context for a call made with opts (see DeadlineFor).
func (p *Policy) context(ctx context.Context, method string, opts []grpc.CallOption) (context.Context, context.CancelFunc) {
	d, ok := p.DeadlineFor(ctx, method, time.Time{}, opts)
	if !ok {
		return ctx, noop
	}
	return clock.WithDeadline(ctx, p.clock, d)
}

// Deadline returns the deadline the policy sets on a call of the full method name made with
// ctx, and false when it leaves ctx's own deadline in force. It emits DeadlineApplied as
// Context does (to the policy's observer and to the call sink ctx carries, if any: see
// observe.WithCallSink), but makes no context: a step that makes one context per attempt anyway (the
// suite's retry loop) bounds each attempt by the returned deadline instead of nesting a
// second context for it. It allocates nothing, but for a call with a call sink to a policy
// that has an observer too: the two sinks of the event are joined for the call.
func (p *Policy) Deadline(ctx context.Context, method string) (time.Time, bool) {
	return p.DeadlineAt(ctx, method, time.Time{})
}

// DeadlineAt is Deadline for a call that started at now, read by its caller (zero: Deadline
// reads the clock), so that the call path reads the clock once for both.
func (p *Policy) DeadlineAt(ctx context.Context, method string, now time.Time) (time.Time, bool) {
	return p.DeadlineFor(ctx, method, now, nil)
}

// DeadlineFor is DeadlineAt for a call made with opts, which has not reached grpc yet: should
// the observer panic on DeadlineApplied, the grpc.OnFinish callbacks among opts run once, with
// calloption's ErrPanicked (codes.Internal), as grpc would have run them once the call ended,
// and the panic goes on to the caller. The interceptors and a suite's chain call it.
func (p *Policy) DeadlineFor(ctx context.Context, method string, now time.Time, opts []grpc.CallOption) (time.Time, bool) {
	d, h, now := p.held(ctx, now)
	if h.Reason == "" {
		return time.Time{}, false
	}
	if sink := p.sinkFor(ctx); sink != nil {
		calloption.Observe(opts, sink, h.Event(grpcmethod.Service(method), method, now))
	}
	return d, true
}

// sinkFor returns where the DeadlineApplied of a call made with ctx goes: to the policy's
// observer and to the call's sink (observe.WithCallSink), whose call's own event it is; nil
// with neither. Only the two together are joined (observe.Multi allocates).
func (p *Policy) sinkFor(ctx context.Context) observe.Sink {
	if cs := observe.CallSinkFrom(ctx); cs != nil {
		if p.sink == nil {
			return cs
		}
		return observe.Multi(p.sink, cs)
	}
	return p.sink
}

func init() {
	fastobs.Deadline = func(p any, ctx context.Context, _ string, now time.Time) (time.Time, fastobs.Held, bool) {
		dp, ok := p.(*Policy)
		if !ok {
			return time.Time{}, fastobs.Held{}, false
		}
		d, h, _ := dp.held(ctx, now)
		return d, h, true
	}
}

// held is DeadlineAt without its event: the deadline it sets (zero: none), the
// DeadlineApplied it holds (Reason "": none), and now, read from the clock when zero and a
// deadline may apply.
func (p *Policy) held(ctx context.Context, now time.Time) (time.Time, fastobs.Held, time.Time) {
	var (
		timeout time.Duration
		reason  string
	)
	dl, ok := ctx.Deadline()
	if ok && p.cfg.Max <= 0 || !ok && p.cfg.Default <= 0 && p.cfg.Max <= 0 {
		return time.Time{}, fastobs.Held{}, now
	}
	// One reading of the clock serves both the comparison with the caller's deadline and the
	// deadline set: the call path reads it often enough already.
	if now.IsZero() {
		now = p.clock.Now()
	}
	switch {
	case !ok && p.cfg.Default > 0:
		timeout, reason = p.cfg.Default, p.reason(ReasonDefault, p.defaultByBudget)
	case !ok:
		timeout, reason = p.cfg.Max, p.reason(ReasonCap, p.maxByBudget)
	default:
		if dl.Sub(now) <= p.cfg.Max {
			return time.Time{}, fastobs.Held{}, now
		}
		timeout, reason = p.cfg.Max, p.reason(ReasonCap, p.maxByBudget)
	}
	return now.Add(timeout), fastobs.Held{Reason: reason, Delay: timeout}, now
}
