package retry

import (
	"context"
	"errors"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// loop is the decision loop of one call, unary or stream: what follows each failed attempt
// (max attempts, the budget, pushback, the retry budget's withdrawal, fit_schedule), the
// backoff sleep on one timer, the attempts' accounting and events, and the call's report.
// It is used by one goroutine at a time.
type loop struct {
	p        *Policy
	m        *methodInfo
	reports  [2]*Info // the call's Report options (copied: the call's settings stay on its stack)
	clk      clock.Clock
	sink     observe.Sink
	start    time.Time
	end      time.Time // the loop's last reading of the clock; zero once it slept since (see run)
	b        bounds
	limit    int
	eligible bool
	kept     bool // grpc ends every attempt at the per-attempt timeout (see InvokeKept)
	sent     int  // attempts sent so far, over retries and the hedges below (see attempt.Round)
	failed   int  // the number over the call of the request whose outcome the last attempt returned
	timer    clock.Timer
	sched    schedule
	cancel   context.CancelFunc // the current attempt's context, until the attempt returns (see run)
	cut      *cutTimer          // the current attempt's CutOvertaken timer, until the attempt returns; nil: none
	round    *attempt.Round     // the attempts' Round, told the end of a CutOvertaken timeout (see cutTimer); nil: none (Do)
	spare    *cutTimer          // the call's pooled CutOvertaken timer, armed for each attempt in turn; nil: none (Do), one per attempt
	drawn    int64              // the receipt of what the budget took for the next attempt's retry, 0: none (see RetryBudget.Refund)
	cc       *grpc.ClientConn   // the call's, whose shutdown ends a backoff sleep (see sleep); nil: none (Do)
}

func (p *Policy) newLoop(ctx context.Context, m *methodInfo, c *call, declared time.Time) loop {
	var l loop
	p.initLoop(&l, ctx, m, c, p.s.Sink, declared, time.Time{})
	return l
}

// initLoop readies l, a loop's zero value, for a call that started at start (zero: now), whose
// events go to sink unless the call names its own (attempt.PerCall.SinkOr). It fills l in
// place: returned by value, a loop would take its size twice in the caller's frame, on the
// stack of every call.
func (p *Policy) initLoop(l *loop, ctx context.Context, m *methodInfo, c *call, sink observe.Sink, declared, start time.Time) {
	l.p, l.m, l.reports, l.clk, l.sink = p, m, [2]*Info{c.report, c.report2}, p.s.Clock, c.SinkOr(sink)
	l.b = bounds{declared: declared}
	l.limit = p.cfg.MaxAttempts
	l.eligible = attempt.Eligible(m.Safe, p.cfg.Idempotent, c.Idempotent)
	if c.MaxAttempts > 0 {
		l.limit = c.MaxAttempts
	}
	l.start = start
	if l.start.IsZero() {
		l.start = l.clk.Now() // not l.end: the outcome is not known yet
	}
	if p.cfg.Budget > 0 {
		l.b.budgetEnd = l.start.Add(p.cfg.Budget)
	}
}

// now reads the clock, after an attempt's outcome is known, as the loop's last reading (see
// run).
func (l *loop) now() time.Time {
	l.end = clock.Later(l.clk, l.start)
	return l.end
}

// more says whether a retry could follow attempt n: when its trailers (pushback) matter.
func (l *loop) more(n int) bool { return l.eligible && n < l.limit }

// outgoing returns ctx with the metadata of attempt n of the retry loop (see package attempt).
func (l *loop) outgoing(ctx context.Context, n int) context.Context {
	if n == 1 {
		return ctx
	}
	return attempt.Outgoing(ctx, l.sent, n, false)
}

// finished accounts for attempt n of the loop, started at t0 and ended with v, of a call
// whose caller's context is ctx: the retry budget records it, unless it began after the
// call's deadline had passed (see lateStart), when a retry is given back to the budget, as
// one refused below the loop is: grpc never sent it. Unless a hedging policy below reported
// the round's requests (t), its AttemptFinished is sent. The requests of the attempt are
// counted in sent either way, and failed numbers the one whose outcome v is.
//
// The AttemptFinished's end is read before the budget records, which then takes it as its
// own reading of the clock: one reading per observed call less. Without an event to send,
// nothing here reads the clock but the budget (t0, the attempt's start, would count a call
// in the slot it began in, a window ago for a call as long as the window).
func (l *loop) finished(ctx context.Context, n int, t0 time.Time, v codes.Verdict, t tally) {
	var end time.Time
	if l.sink != nil && t.reported == 0 {
		end = l.now()
	}
	if l.p.overtaking {
		l.p.answered(l.m, t0, end, v)
	}
	late := l.m.bucket != nil && v.Class.Failure() && l.lateStart(ctx, t0)
	if l.m.bucket != nil && !late {
		l.m.bucket.record(v, n == 1, end)
	}
	if n > 1 && l.m.bucket != nil && (v.Class == codes.Rejected || late) {
		// A retry refused on this side of the wire (an open breaker, a full bulkhead, the
		// rate limit, the throttle), or begun past the call's deadline (its backoff's timer
		// fired late), which grpc fails before sending it, and which decide's allow paid for:
		// nothing was sent.
		l.m.bucket.Refund(l.drawn)
	}
	l.drawn = 0
	if t.reported > 0 {
		l.sent += int(t.reported)
		l.failed = l.sent
		if t.decided > 0 {
			l.failed = int(t.decided)
		}
		return
	}
	l.sent++
	l.failed = l.sent
	if l.sink != nil {
		attempt.Finished(l.sink, observe.PolicyRetry, &l.m.Method, l.sent, t0, end, v, "")
	}
}

// lateStart reports whether an attempt that began at t0 began when the call's deadline
// (ctx's, or the declared one) had already passed: grpc fails such an attempt before sending
// it, with DeadlineExceeded, which then says nothing about the service (one whose deadline
// passes while it runs does). Asked of failures only, it costs a success nothing.
func (l *loop) lateStart(ctx context.Context, t0 time.Time) bool {
	dl, ok := l.b.deadline(ctx)
	return ok && !t0.Before(dl)
}

// next handles the failure err (verdict v) of attempt n of a call whose caller's context is
// ctx. It returns true once the backoff sleep, on sleepCtx, has passed and attempt n+1 may
// start; otherwise false and the error the call ends with, the call reported. committed,
// when not nil, reports whether the call can no longer be retried (a stream that outgrew its
// replay buffer); it is asked before and after the sleep. A retry decided on and not made,
// whatever the reason (a panic of the observer on RetryScheduled, or of the Clock, included),
// gives the budget back what decide drew for it (unsent).
func (l *loop) next(ctx, sleepCtx context.Context, n int, v codes.Verdict, err error, committed func() bool) (retry bool, _ error) {
	delay, reason, raw := l.decide(ctx, v, n, committed)
	switch {
	case raw:
		l.report(v)
		return false, err
	case reason != "":
		return false, l.exhausted(v, reason, err)
	}
	defer func() {
		if !retry { // false too while a panic goes on
			l.unsent()
		}
	}()
	if l.sink != nil {
		// The request that failed, numbered over the call as AttemptFinished numbers it: after
		// a hedged round, the one whose failure the round returned (v), not the round.
		l.sink.Observe(observe.Event{
			Kind: observe.RetryScheduled, Time: l.now(), Service: l.m.Service, Method: l.m.Name,
			Policy: observe.PolicyRetry, Attempt: l.failed, Code: v.Code, Class: v.Class, Delay: delay,
			Reason: delayReason(v),
		})
	}
	// The sleep ends before the deadline and the budget (decide checked that it fits): only
	// the caller can cut it short, or, for a stream (sleepCtx: its context, bounded by the
	// budget), the stream's end for good, which releases that context: a stream that ended
	// (committed) is not a budget spent; or the shutdown of the call's ClientConn, which
	// ends the call as gRPC ends those it holds (errConnClosing), unless the caller's context
	// ended first.
	if passed, closed := l.sleep(sleepCtx, delay); !passed {
		l.unsent()
		if closed && ctx.Err() == nil {
			l.report(codes.Verdict{Class: codes.Canceled, Code: grpccodes.Canceled})
			return false, errConnClosing
		}
		if committed != nil && ctx.Err() == nil && committed() {
			l.report(v)
			return false, err
		}
		if reason, raw := interrupted(ctx); !raw {
			return false, l.exhausted(v, reason, err)
		}
		l.report(v)
		return false, err
	}
	l.sched = l.sched.next(delay, v.Pushback.Set)
	if committed != nil && committed() {
		l.unsent()
		l.report(v)
		return false, err
	}
	return true, nil
}

// unsent gives the retry budget back what decide drew for a retry that is not made after all
// (the caller gave up during the backoff, the ClientConn shut down, the stream committed,
// before or just after the sleep's end, as its attempt was to open, the observer or the Clock
// panicked before the sleep's end): it reached no service, and left counted in a ratio
// budget's window it would refuse another call's retry. A token bucket's allow took nothing.
func (l *loop) unsent() {
	if l.drawn != 0 {
		l.m.bucket.Refund(l.drawn)
		l.drawn = 0
	}
}

// decide says what follows the failed attempt n with verdict v: a retry after delay, the end
// of retrying for reason after a retryable outcome, or (raw) the end of the call with the
// error as it is, because the outcome is never retried, the caller canceled, or the method
// may not be retried, or the call committed (committed, when not nil, says so). The retry
// budget is asked last, once the retry is otherwise certain (the commit checked), because a
// ratio budget counts the retry it allows.
func (l *loop) decide(ctx context.Context, v codes.Verdict, n int, committed func() bool) (delay time.Duration, reason string, raw bool) {
	now := l.now()
	switch {
	case !v.Class.Retryable(), !l.eligible, errors.Is(ctx.Err(), context.Canceled):
		return 0, "", true
	case ctx.Err() != nil:
		return 0, observe.ReasonDeadline, false
	}
	// The caller's deadline may have passed before its timer fired (timers fire in goroutines
	// of their own): told from the time, as the declared deadline and the budget are.
	if dl, ok := ctx.Deadline(); ok && !now.Before(dl) {
		return 0, observe.ReasonDeadline, false
	}
	if reason := l.b.over(now); reason != "" {
		return 0, reason, false
	}
	switch {
	case v.Pushback.Stop:
		return 0, observe.ReasonPushbackStop, false
	case n >= l.limit:
		return 0, observe.ReasonMaxAttempts, false
	}
	if v.Pushback.Set {
		delay = v.Pushback.Delay
	} else {
		var upper time.Duration
		delay, upper = l.p.backoff(l.sched, l.p.s.rand)
		if l.p.cfg.FitSchedule {
			delay = fit(delay, upper, now, l.b.end(ctx), l.limit-n)
		}
	}
	if reason := fits(ctx, l.b, now, delay); reason != "" {
		return delay, reason, false
	}
	if committed != nil && committed() {
		return 0, "", true
	}
	if l.m.bucket != nil {
		ok, drawn := l.m.bucket.allow()
		if !ok {
			return 0, observe.ReasonRetryBudget, false
		}
		l.drawn = drawn
	}
	return delay, "", false
}

// errConnClosing is what a call returns when its ClientConn shuts down during its backoff
// sleep: Canceled, as gRPC ends the calls it holds at ClientConn.Close.
var errConnClosing = status.Error(grpccodes.Canceled, "retry: the client connection is closing (ClientConn.Close during the backoff before a retry)")

// sleep waits d on the loop's timer (made on first use, then Reset: one timer per call)
// unless ctx is done first, or the call's ClientConn (cc) shuts down first (closed), which
// the ClientConn's watcher tells (streamend.ConnDone: asked here, so only a call that sleeps
// pays for it). It reports whether the whole sleep passed.
func (l *loop) sleep(ctx context.Context, d time.Duration) (passed, closed bool) {
	l.end = time.Time{} // the call goes on past the last reading
	if d <= 0 {
		return ctx.Err() == nil, false
	}
	if l.timer == nil {
		l.timer = l.clk.NewTimer(d)
	} else {
		l.timer.Reset(d)
	}
	select {
	case <-l.timer.C():
		return true, false
	case <-ctx.Done():
		l.timer.Stop()
		return false, false
	case <-streamend.ConnDone(l.cc):
		l.timer.Stop()
		return false, true
	}
}

// stop releases the loop's timer.
func (l *loop) stop() {
	if l.timer != nil {
		l.timer.Stop()
	}
}

// finish ends a unary call's loop: it releases the timer, and the context of an attempt that
// panicked, and gives t, when not nil, the call's end if the loop read the clock once the
// outcome was known (see run); else t's End stays zero, and its reader reads the clock.
func (l *loop) finish(t *section.Timing) {
	l.stop()
	if l.cancel != nil {
		// The attempt panicked (the invoker below, or a policy under the loop): its context,
		// and the timer of its per-attempt timeout, go with the panic.
		l.cancel()
		l.cancel = nil
	}
	if l.cut != nil {
		l.cut.stop()
		l.cut = nil
	}
	if t != nil {
		t.End = l.end
	}
}

// report writes the call's Info to its Report options, for a call that ends without
// exhausting retries, whose last outcome is v. Its Attempts is the requests sent (see Info).
func (l *loop) report(v codes.Verdict) {
	if l.reports[0] != nil {
		l.setReport(Info{Attempts: l.sent, Elapsed: l.now().Sub(l.start), Code: v.Code})
	}
}

// exhausted ends a call that stops after a retryable outcome v, for reason. Info.Attempts and
// RetriesExhausted's Attempt are the requests sent, hedges below included, as CallFinished's.
func (l *loop) exhausted(v codes.Verdict, reason string, err error) error {
	now := l.now()
	info := Info{Attempts: l.sent, Elapsed: now.Sub(l.start), Code: v.Code, Reason: reason}
	l.setReport(info)
	if l.sink != nil {
		l.sink.Observe(observe.Event{
			Kind: observe.RetriesExhausted, Time: now, Service: l.m.Service, Method: l.m.Name,
			Policy: observe.PolicyRetry, Attempt: l.sent, Code: v.Code, Class: v.Class, Duration: info.Elapsed, Reason: reason,
		})
	}
	return &ExhaustedError{Info: info, Err: err}
}

func (l *loop) setReport(info Info) {
	for _, r := range l.reports {
		if r != nil {
			*r = info
		}
	}
}

// delayReason is RetryScheduled's Reason: ReasonPushback when the server chose the delay.
func delayReason(v codes.Verdict) string {
	if v.Pushback.Set {
		return observe.ReasonPushback
	}
	return ""
}

// interrupted says how a call whose backoff sleep was cut short ends: raw when the caller
// canceled, else exhausted for the caller's deadline or the budget.
func interrupted(ctx context.Context) (reason string, raw bool) {
	switch err := ctx.Err(); {
	case errors.Is(err, context.Canceled):
		return "", true
	case err != nil:
		return observe.ReasonDeadline, false
	}
	return observe.ReasonBudget, false
}

// fits says why a sleep of d starting at now cannot be followed by an attempt of at least
// MinAttemptTime before the caller's deadline or the budget's end, or "" when it can.
func fits(ctx context.Context, b bounds, now time.Time, d time.Duration) string {
	dl, ok := b.deadline(ctx)
	// A deadline no earlier than the budget's end is the budget's: a suite's deadline step,
	// which the call budget caps, declares the budget's end itself.
	if !b.budgetEnd.IsZero() && (!ok || !dl.Before(b.budgetEnd)) {
		if !room(now, d, b.budgetEnd) {
			return observe.ReasonBudget
		}
		return ""
	}
	if ok && !room(now, d, dl) {
		return observe.ReasonDeadline
	}
	return ""
}

// room reports whether a sleep of d from now leaves MinAttemptTime before end, in durations
// that saturate (a backoff near the longest Duration must not wrap into the past).
func room(now time.Time, d time.Duration, end time.Time) bool {
	left := end.Sub(now)
	return left >= MinAttemptTime && d <= left-MinAttemptTime
}
