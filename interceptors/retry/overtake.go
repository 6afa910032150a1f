package retry

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/observe"
)

// CutOvertaken's record and judgement: a method's attempts tell, as they are answered, the
// start of the latest one answered fast (methodInfo.overtaker); at its per-attempt timeout an
// attempt is cut only if that start is after its own.

// overtaking is what a method's state holds for CutOvertaken.
type overtaking struct {
	// overtaker is the start (Unix nanoseconds of the policy's clock) of the latest-started
	// attempt of the method answered in under half the per-attempt timeout; 0: none yet.
	overtaker atomic.Int64
}

// overtaken reports whether an attempt that started at t0 was overtaken: an attempt of the
// same method that started after it was answered in under half the per-attempt timeout.
func (o *overtaking) overtaken(t0 time.Time) bool { return o.overtaker.Load() > t0.UnixNano() }

// answered records that an attempt of m that started at t0 ended with v at end (zero: not
// read yet, and read here only for an answer), for a policy whose per-attempt timeout cuts
// overtaken attempts only (p.overtaking); it does nothing for others. Only an answer of the
// service counts (a success or a business answer): a failure, fast as it may be, does not say
// that a retry would be answered sooner.
func (p *Policy) answered(m *methodInfo, t0, end time.Time, v codes.Verdict) {
	if !p.overtaking || (v.Class != codes.Success && v.Class != codes.Business) {
		return
	}
	d := end.Sub(t0)
	if end.IsZero() {
		d = clock.Since(p.s.Clock, t0)
	}
	if d >= p.cfg.PerAttemptTimeout/2 {
		return
	}
	ns := t0.UnixNano()
	for {
		cur := m.overtaker.Load()
		if ns <= cur || m.overtaker.CompareAndSwap(cur, ns) {
			return
		}
	}
}

// cutTimer is the per-attempt timeout of a unary attempt under CutOvertaken: a timer of the
// policy's clock, not a deadline of the attempt's context, that at the timeout cancels the
// attempt if, and only if, the service overtook it (see CutOvertaken).
//
// A hedging policy below sends no hedge it cannot finish before the timeout, which the
// attempt's context does not carry: the attempt's round (attempt.Round) is told its end
// until the timer spares the attempt, or the attempt returns.
//
// A unary call through the interceptor arms the one of its pooled state for each of its
// attempts in turn (stop waits for a timer that fired to have done, so that nothing of an
// attempt is left to the next), and keeps its timer and func across calls: a call whose
// attempt needs the timer allocates nothing for it but the attempt's context and the value
// that carries the timer's cut flag to the policies below (outcome.WithCutFlag). Do's calls
// make one per attempt.
//
// A timer that spares its attempt tells the loop's sink, when there is one (AttemptSpared).
type cutTimer struct {
	m      *methodInfo
	t0     time.Time
	cancel context.CancelFunc
	round  *attempt.Round // nil: none
	cut    atomic.Bool    // the timer canceled the attempt
	done   atomic.Bool    // fire has returned
	timer  clock.Timer    // kept stopped between attempts, for clk's next
	clk    clock.Clock
	fn     func() // fire, made once
	// The attempt's AttemptSpared: the loop's sink (nil: none), the attempt's number over the
	// call, its timeout.
	sink observe.Sink
	n    int
	d    time.Duration
}

// arm readies c for attempt n (over the call) of m that started at t0, whose context cancel
// ends, to fire at end on clk, and tells round, when not nil, that end; sink, when not nil, is
// told if c spares the attempt.
func (c *cutTimer) arm(clk clock.Clock, m *methodInfo, t0, end time.Time, cancel context.CancelFunc, round *attempt.Round, sink observe.Sink, n int) {
	d := end.Sub(t0)
	c.m, c.t0, c.cancel, c.round, c.sink, c.n, c.d = m, t0, cancel, round, sink, n, d
	c.cut.Store(false)
	c.done.Store(false)
	if round != nil {
		round.SetEnd(end)
	}
	if c.timer != nil && c.clk == clk {
		c.timer.Reset(d)
		return
	}
	if c.fn == nil {
		c.fn = c.fire
	}
	c.clk = clk
	if sc, ok := clk.(syncAfterFuncer); ok && clk != clock.Real {
		// A fake clock fires it in the move of its time, as it ends a deadline: a test
		// reads the attempt's context once the move returns.
		c.timer = sc.SyncAfterFunc(d, c.fn)
	} else {
		c.timer = clk.AfterFunc(d, c.fn)
	}
}

func (c *cutTimer) fire() {
	defer c.done.Store(true)
	if c.m.overtaken(c.t0) {
		c.cut.Store(true) // before the cancel: see outcome.Cut
		c.cancel()
		return
	}
	if c.round != nil {
		c.round.SetEnd(time.Time{}) // the attempt runs on: so may its hedges
	}
	if c.sink != nil {
		c.spared()
	}
}

// spared sends the AttemptSpared of the attempt c spared, before fire is done: stop waits for
// it, so that it comes before the attempt's AttemptFinished. It runs in the timer's goroutine,
// which has no caller to go to: a panic of the observer is recovered and dropped here, as the
// hedging policy drops one on a hedge it reports from its timer (hedge's untold); the attempt
// runs on, its round's end lifted, and fire is done as ever.
func (c *cutTimer) spared() {
	defer func() { _ = recover() }()
	c.sink.Observe(observe.Event{
		Kind: observe.AttemptSpared, Time: c.clk.Now(), Service: c.m.Service, Method: c.m.Name,
		Policy: observe.PolicyRetry, Attempt: c.n, Delay: c.d,
	})
}

// stop stops the timer, or waits for a timer that fired to have done, clears the end it told
// the round, and reports whether it cut the attempt. Called once the attempt returned, before
// the round serves another.
func (c *cutTimer) stop() bool {
	if !c.timer.Stop() {
		for !c.done.Load() {
			runtime.Gosched() // fire is short and never waits for the caller
		}
	}
	if c.round != nil {
		c.round.SetEnd(time.Time{})
	}
	cut := c.cut.Load()
	c.m, c.cancel, c.round, c.sink = nil, nil, nil, nil
	return cut
}

// syncAfterFuncer is a clock that can fire a func in the move of its time that reaches it
// (clocktest.Fake; see clock.WithDeadline). fire is short and does not block, as it asks.
type syncAfterFuncer interface {
	SyncAfterFunc(d time.Duration, f func()) clock.Timer
}

// overtakenContext returns the context of an attempt that started at t0, bounded by bound
// (attempt.BoundOf), whose per-attempt timeout comes first and cuts overtaken attempts only
// (CutOvertaken), and its cancel: the timeout is no deadline of the context, which ends with
// the call, but l.cut, armed here (see cutTimer). Not inlined: run's frame, under every
// attempt, stays as it was.
//
//go:noinline
func (l *loop) overtakenContext(ctx context.Context, bound attempt.Bound, t0 time.Time) (context.Context, context.CancelFunc) {
	actx, cancel := attempt.BoundOf(ctx, l.b.own(), t0, 0, false).Context(ctx, l.clk, true)
	if l.cut = l.spare; l.cut == nil {
		l.cut = new(cutTimer)
	}
	l.cut.arm(l.clk, l.m, t0, bound.End, cancel, l.round, l.sink, l.sent+1)
	// The timer flags its cut before it cancels, so that the policies below take the
	// attempt's end for the timeout's, as a deadline's, not for a caller's cancellation
	// (outcome.ErrCut).
	return outcome.WithCutFlag(actx, &l.cut.cut), cancel
}
