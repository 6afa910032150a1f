package retry

import (
	"context"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/observe"
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
	method     string
	req, reply any
	cc         *grpc.ClientConn
	invoker    grpc.UnaryInvoker
	callerOpts []grpc.CallOption
	md         metadata.MD
	round      attempt.Round
	opts       []grpc.CallOption
	gates      *section.Gates // what each attempt passes before invoker (see InvokeGated); nil: none
	t          section.Timing // InvokeGated's call's (its Start: the call's, which the gates may take on the first attempt)
	declared   time.Time      // InvokeGated's call's declared deadline
	kept       time.Duration  // InvokeGated's call's kept timeout
	// loop is last but cut: a call that succeeds at its first attempt through InvokeGated sets
	// none of it up, and neither reads nor clears its cache lines (see release).
	loop loop
	cut  cutTimer // the attempts' CutOvertaken timer, kept across calls (see cutTimer)
}

var unaryCallPool = sync.Pool{New: func() any { return new(unaryCall) }}

// attempt is the call's attemptFunc.
func (u *unaryCall) attempt(actx context.Context, cancel context.CancelFunc, prev int, more bool) (metadata.MD, tally, error) {
	u.options(prev, cancel, more)
	var err error
	if u.gates != nil {
		err = u.throughGates(actx, prev)
	} else {
		err = u.invoker(actx, u.method, u.req, u.reply, u.cc, u.opts...)
	}
	md, t := u.outcome()
	return md, t, err
}

// options readies u's call options for an attempt after prev others: the caller's, the
// attempt's Round (cancel: how a hedging policy below cancels it; the call's start,
// InvokeGated's, else the loop's) and, when a retry could follow (more), a
// trailer option of u's own.
func (u *unaryCall) options(prev int, cancel context.CancelFunc, more bool) {
	start := u.t.Start
	if start.IsZero() {
		start = u.loop.start
	}
	u.round.Reset(prev, start, cancel)
	if u.c.onFinish {
		u.opts = append(calloption.WithoutOnFinish(u.opts[:0], u.callerOpts), &u.round)
	} else {
		u.opts = append(append(u.opts[:0], u.callerOpts...), &u.round)
	}
	if more {
		// Only when a retry could follow: grpc copies the trailer for the option, and its
		// pushback would go unread.
		u.opts = append(u.opts, grpc.Trailer(&u.md))
	}
}

// outcome returns what the attempt options left: the trailer, and what a hedging policy below
// told of the attempt's requests; it clears the options for the next attempt.
func (u *unaryCall) outcome() (metadata.MD, tally) {
	md, t := u.md, tallyOf(&u.round)
	u.md = nil
	u.round.Reset(0, time.Time{}, nil)
	clear(u.opts)
	u.opts = u.opts[:0]
	return md, t
}

// throughGates makes u's attempt, after prev others, through its gates (see InvokeGated): the
// first attempt passes them the call's start. Apart from attempt, whose frame a call without
// gates holds under every attempt.
//
//go:noinline
func (u *unaryCall) throughGates(ctx context.Context, prev int) error {
	var start *time.Time
	if prev == 0 && !u.t.Start.IsZero() {
		start = &u.t.Start
	}
	return u.gates.Invoke(ctx, start, u.method, u.req, u.reply, u.cc, u.invoker, u.opts)
}

// release returns u to the pool, holding nothing of its call. Its loop is cleared only when
// the call set it up (initLoop sets its policy; the paths that run the loop, its ClientConn).
// Its round drops what a hedging policy below offered at the end of the call's last round
// (attempt.Round.Offer), which no per-attempt timeout took: a later call's timeout must not
// record it.
func (u *unaryCall) release() {
	u.c = call{}
	u.round.Offer(nil, 0)
	if u.loop.p != nil || u.loop.cc != nil {
		u.loop = loop{}
	}
	u.method, u.req, u.reply, u.cc, u.invoker, u.callerOpts, u.gates = "", nil, nil, nil, nil, nil, nil
	u.t, u.declared, u.kept = section.Timing{}, time.Time{}, 0
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
// ReasonDeadline; ReasonBudget when the budget ends at the same instant, as when a suite's
// deadline step declares the call budget's end). A zero declared is Unary's behaviour.
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
		if t != nil {
			return p.invokeDisabledReported(ctx, declared, u, t.Sink, t.Start)
		}
		return p.invokeDisabled(ctx, declared, u)
	}
	u.loop.cc = cc // its shutdown ends a backoff sleep (see loop.sleep)
	u.loop.round, u.loop.spare = &u.round, &u.cut
	var err error
	if u.c.onFinish {
		err = p.runFinishing(ctx, u, t, declared, kept, p.method(method))
	} else {
		err = p.run(&u.loop, ctx, t, declared, kept, p.method(method), &u.c, u.attempt, 1)
	}
	u.release() // Not when an attempt panics: the pool does without u.
	return err
}

// runFinishing runs the loop for u's call, whose caller's options hold a grpc.OnFinish: the
// loop runs the callbacks itself, once for the call, with its error (its attempts are given
// none, see options). Should the call panic (an attempt, or an observer on one of the loop's
// events or on a gate's Rejected), they run with calloption.ErrPanicked as the panic goes on:
// grpc, which would have run them, was never given them.
func (p *Policy) runFinishing(ctx context.Context, u *unaryCall, t *section.Timing, declared time.Time, kept time.Duration, m *methodInfo) error {
	finished := false
	defer func() {
		if !finished {
			calloption.Panicked(u.callerOpts)
		}
	}()
	err := p.run(&u.loop, ctx, t, declared, kept, m, &u.c, u.attempt, 1)
	finished = true
	calloption.OnFinish(u.callerOpts, err)
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
	method, req, reply, cc, invoker, opts, g := u.method, u.req, u.reply, u.cc, u.invoker, u.callerOpts, u.gates
	u.release()
	if g != nil {
		return g.Invoke(ctx, nil, method, req, reply, cc, invoker, opts)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// reportDisabled sends to sink the one AttemptFinished (attempt 1) of a call of method made
// with Disable, which started at start and ended with err, unless a hedging policy below
// reported the call's requests itself (round): the report invokeDisabledReported and
// streamDisabledReported share.
func (p *Policy) reportDisabled(sink observe.Sink, round *attempt.Round, method string, start time.Time, err error) {
	if round.Reported() == 0 {
		m := p.method(method)
		attempt.Finished(sink, observe.PolicyRetry, &m.Method, 1, start, clock.Later(p.s.Clock, start), p.s.Classifier.Classify(err), "")
	}
}

// invokeDisabledReported is invokeDisabled for a call through a suite (InvokeKept with a
// Timing, InvokeGated), which started at start (zero: unknown). The suite reports the one
// attempt of a chain without a retry step itself, and leaves a chain's retry step to report
// its attempts: so the step reports the one attempt of a call made with Disable, an
// AttemptFinished (attempt 1) to sink (nil: the policy's; the call's WithCallObserver before
// either), unless a hedging policy below reported the attempt's requests itself (its Round).
// Every request sent is then reported once, retry section or not, Disable or not.
func (p *Policy) invokeDisabledReported(ctx context.Context, declared time.Time, u *unaryCall, sink observe.Sink, start time.Time) error {
	if sink == nil {
		sink = p.s.Sink
	}
	if sink = u.c.SinkOr(sink); sink == nil {
		return p.invokeDisabled(ctx, declared, u)
	}
	if !declared.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = clock.WithDeadline(ctx, p.s.Clock, declared)
		defer cancel()
	}
	if start.IsZero() {
		start = p.s.Clock.Now()
	}
	u.round.Reset(0, start, nil)
	u.opts = append(append(u.opts[:0], u.callerOpts...), &u.round)
	var err error
	if u.gates != nil {
		err = u.gates.Invoke(ctx, nil, u.method, u.req, u.reply, u.cc, u.invoker, u.opts)
	} else {
		err = u.invoker(ctx, u.method, u.req, u.reply, u.cc, u.opts...)
	}
	p.reportDisabled(sink, &u.round, u.method, start, err)
	u.outcome()
	u.release()
	return err
}

// InvokeGated is InvokeKept for a call whose attempts pass the gates g alone (section.Gates)
// before invoker, grpc's: the loop enters them itself for each attempt, and a suite runs such
// a chain without a runner of its own. start is the call's start, read by the caller just
// before, with nothing since that could have waited (zero: the loop reads the clock): the
// call's timing, its first attempt's start and the gates' now on that attempt (see
// section.Gates.Invoke). sink, when not nil,
// gets the call's events instead of the policy's sink (see section.Timing).
//
// The first attempt of a call that its caller's context bounds well enough (the attempt needs
// no context of its own, see InvokeKept) and that asks for no retry.Report is made before the
// loop's state is set up, which only a failed attempt needs: a call that succeeds at once,
// most calls, does the least. It returns when the loop saw the call's outcome (zero: it read
// no clock for it), the requests the call sent (its attempts, with the hedges of a hedging
// policy below, were there one) and the call's error.
//
// A suite's fused path (internal/fastobs) passes a *fastobs.Quiet as sink: the AttemptFinished
// of a first attempt made so that succeeds is then not sent, and InvokeGated returns 0
// attempts; the suite records it with the call.
//
// rm, when not the zero Method, is p.Method(method), resolved by the caller once for the
// calls of its method: the call then does not look it up.
func (p *Policy) InvokeGated(ctx context.Context, rm Method, g *section.Gates, start time.Time, sink observe.Sink, declared time.Time, kept time.Duration, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) (time.Time, int, error) {
	if start.IsZero() {
		start = p.s.Clock.Now()
	}
	u := unaryCallPool.Get().(*unaryCall)
	u.method, u.req, u.reply, u.cc, u.invoker, u.callerOpts, u.gates = method, req, reply, cc, invoker, opts, g
	u.t, u.declared, u.kept = section.Timing{Start: start, Sink: sink}, declared, kept
	if u.c.read(opts); u.c.Disabled {
		return time.Time{}, 1, p.invokeDisabledReported(ctx, declared, u, sink, start)
	}
	if u.t.Sink == nil {
		u.t.Sink = p.s.Sink
	}
	m := rm.m
	if m == nil {
		m = p.method(method)
	}
	if u.c.report != nil || u.c.onFinish || p.bounded(ctx, u) {
		u.loop.cc, u.loop.round, u.loop.spare = cc, &u.round, &u.cut
		var err error
		if u.c.onFinish {
			err = p.runFinishing(ctx, u, &u.t, declared, kept, m)
		} else {
			err = p.run(&u.loop, ctx, &u.t, declared, kept, m, &u.c, u.attempt, 1)
		}
		return p.gatedEnd(u, err)
	}
	limit := p.cfg.MaxAttempts
	if u.c.MaxAttempts > 0 {
		limit = u.c.MaxAttempts
	}
	// The first attempt: what attempt does, with the gates entered here, one frame less
	// under the call.
	u.options(0, nil, 1 < limit && attempt.Eligible(m.Safe, p.cfg.Idempotent, u.c.Idempotent))
	err := g.Invoke(ctx, &u.t.Start, method, req, reply, cc, invoker, u.opts)
	trailer, tl := u.outcome()
	v := p.s.Classifier.ClassifyTrailer(err, trailer)
	if err != nil {
		return p.resume(ctx, u, m, v, tl, err)
	}
	return p.gatedOK(u, m, v, tl)
}

// Method is a policy's state of one full method (its name as the events carry it, its retry
// budget), resolved once by Policy.Method for a caller that makes many calls of that method
// (a suite's chain built for it), to pass to InvokeGated. The zero Method is none.
type Method struct{ m *methodInfo }

// Name returns the full method m is the state of ("" for the zero Method).
func (m Method) Name() string {
	if m.m == nil {
		return ""
	}
	return m.m.Name
}

// Method returns p's state of fullMethod (see Method): the one p's calls of fullMethod look
// up, for a name p's table keeps; for one past its bounds (a name longer than the table keeps,
// or beyond its count), which each call looks up afresh, a state of the same name and budget.
func (p *Policy) Method(fullMethod string) Method { return Method{p.method(fullMethod)} }

// bounded reports whether the attempts of u's call need a context of their own (see
// attempt.BoundOf): the declared deadline or the budget ends the call before ctx does, and
// grpc does not keep the per-attempt timeout that comes first.
func (p *Policy) bounded(ctx context.Context, u *unaryCall) bool {
	b := bounds{declared: u.declared}
	if p.cfg.Budget > 0 {
		b.budgetEnd = u.t.Start.Add(p.cfg.Budget)
	}
	return attempt.BoundOf(ctx, b.own(), u.t.Start, p.cfg.PerAttemptTimeout, p.keeps(u.kept)).Needed
}

// keeps reports whether grpc keeps the per-attempt timeout: it applies kept to every attempt
// (see InvokeKept).
func (p *Policy) keeps(kept time.Duration) bool {
	return kept > 0 && kept == p.keptTimeout
}

// gatedOK ends InvokeGated's call of u, whose first attempt succeeded (verdict v; t: what a
// hedging policy below told of it), as the loop's finished, report and finish would.
func (p *Policy) gatedOK(u *unaryCall, m *methodInfo, v codes.Verdict, t tally) (time.Time, int, error) {
	var end time.Time
	sink := u.c.SinkOr(u.t.Sink)
	if sink != nil && t.reported == 0 {
		end = clock.Later(p.s.Clock, u.t.Start) // before the budget records, which takes it (see loop.finished)
	}
	if p.overtaking {
		p.answered(m, u.t.Start, end, v)
	}
	if m.bucket != nil {
		m.bucket.record(v, true, end)
	}
	if sink != nil && t.reported == 0 {
		if _, ok := sink.(*fastobs.Quiet); ok {
			// A suite's fused path (package fastobs): the suite records the attempt with
			// the call.
			u.release()
			return end, 0, nil
		}
		attempt.Finished(sink, observe.PolicyRetry, &m.Method, 1, u.t.Start, end, v, "")
	}
	u.release()
	return end, max(int(t.reported), 1), nil
}

// resume goes on with InvokeGated's call of u in the retry loop after its first attempt
// failed with err (verdict v; t: what a hedging policy below told of it).
func (p *Policy) resume(ctx context.Context, u *unaryCall, m *methodInfo, v codes.Verdict, t tally, err error) (time.Time, int, error) {
	l := &u.loop
	p.initLoop(l, ctx, m, &u.c, u.t.Sink, u.declared, u.t.Start)
	l.cc, l.round, l.spare = u.cc, &u.round, &u.cut
	l.kept = p.keeps(u.kept)
	l.finished(ctx, 1, u.t.Start, v, t)
	if retry, ferr := l.next(ctx, ctx, 1, v, err, nil); !retry {
		l.finish(&u.t)
		return p.gatedEnd(u, ferr)
	}
	return p.gatedEnd(u, p.run(l, ctx, &u.t, u.declared, u.kept, m, &u.c, u.attempt, 2))
}

// gatedEnd returns what InvokeGated returns for u's call, which ended with err, and releases u.
func (p *Policy) gatedEnd(u *unaryCall, err error) (time.Time, int, error) {
	end, sent := u.t.End, u.loop.sent
	u.release() // Not when an attempt panics: the pool does without u.
	return end, sent, err
}
