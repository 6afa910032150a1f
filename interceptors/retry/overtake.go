package retry

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
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

// answered records that an attempt of m that started at t0 ended with v after d, for a policy
// whose per-attempt timeout cuts overtaken attempts only (p.overtaking); it does nothing for
// others. Only an answer of the service counts (a success or a business answer): a failure,
// fast as it may be, does not say that a retry would be answered sooner.
func (p *Policy) answered(m *methodInfo, t0 time.Time, d time.Duration, v codes.Verdict) {
	if !p.overtaking || (v.Class != codes.Success && v.Class != codes.Business) || d >= p.cfg.PerAttemptTimeout/2 {
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
// attempt if, and only if, the service overtook it (see CutOvertaken). It is the attempt's
// own: a timer that fires as the attempt ends touches nothing of the next one.
//
// A hedging policy below sends no hedge it cannot finish before the timeout, which the
// attempt's context does not carry: the attempt's round (attempt.Round) is told its end
// until the timer spares the attempt, or the attempt returns.
type cutTimer struct {
	m      *methodInfo
	t0     time.Time
	cancel context.CancelFunc
	round  *attempt.Round // nil: none
	cut    atomic.Bool    // the timer canceled the attempt
	timer  clock.Timer
}

// armCut arms the timer of an attempt of m that started at t0, whose context cancel ends,
// to fire at end, and tells round, when not nil, that end.
func armCut(clk clock.Clock, m *methodInfo, t0, end time.Time, cancel context.CancelFunc, round *attempt.Round) *cutTimer {
	c := &cutTimer{m: m, t0: t0, cancel: cancel, round: round}
	if round != nil {
		round.SetEnd(end)
	}
	if sc, ok := clk.(syncAfterFuncer); ok && clk != clock.Real {
		// A fake clock fires it in the move of its time, as it ends a deadline: a test
		// reads the attempt's context once the move returns.
		c.timer = sc.SyncAfterFunc(end.Sub(t0), c.fire)
	} else {
		c.timer = clk.AfterFunc(end.Sub(t0), c.fire)
	}
	return c
}

// syncAfterFuncer is a clock that can fire a func in the move of its time that reaches it
// (clocktest.Fake; see clock.WithDeadline). fire is short and does not block, as it asks.
type syncAfterFuncer interface {
	SyncAfterFunc(d time.Duration, f func()) clock.Timer
}

func (c *cutTimer) fire() {
	if c.m.overtaken(c.t0) {
		c.cut.Store(true)
		c.cancel()
		return
	}
	if c.round != nil {
		c.round.SetEnd(time.Time{}) // the attempt runs on: so may its hedges
	}
}

// stop stops the timer, clears the end it told the round, and reports whether it cut the
// attempt. Called once the attempt returned, before the round serves another.
func (c *cutTimer) stop() bool {
	c.timer.Stop()
	if c.round != nil {
		c.round.SetEnd(time.Time{})
	}
	return c.cut.Load()
}
