package retry

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
)

// RetryBudget is the retry budget of one service: every retry and every hedged attempt
// (interceptors/hedge) of every call to the service draws from it. It is one of two kinds,
// chosen by Config.Throttle (a RetryBudgetConfig):
//
//   - a ratio budget (Throttle.Ratio > 0): in any Window, retries and hedges may number at
//     most Ratio times the calls made in it, plus MinPerSecond·Window of them whatever the
//     traffic (Finagle's RetryBudget). Calls deposit before they can fail, so a burst of
//     concurrent first failures finds its own deposits, and the floor covers a cold start.
//   - gRFC A6's token bucket (Throttle.MaxTokens > 0), in thousandths of a token so that the
//     arithmetic is exact for ratios with up to three decimals.
//
// It is safe for concurrent use and allocates nothing.
type RetryBudget struct {
	// Token bucket (A6). milli is below 0 while a Withdraw owes what it took from a bucket
	// that held less than one token (see Withdraw).
	milli     atomic.Int64
	max       int64
	ratio     int64
	threshold int64

	// Ratio budget; ratioMode is false for a token bucket.
	ratioMode bool
	clk       clock.Clock
	base      time.Time
	pct       int64 // Ratio in thousandths
	floor     int64 // MinPerSecond·Window, in thousandths of a retry
	slotDur   int64 // Window/budgetSlots, in nanoseconds
	mu        sync.Mutex
	slots     [budgetSlots]budgetSlot // Guarded by mu.
}

// Budget is RetryBudget, its older name: a retry budget, not the time limit Config.Budget.
//
// Deprecated: use RetryBudget.
type Budget = RetryBudget

// budgetSlots is how many slots a ratio budget's window is cut into: counts leave the window
// one slot (a tenth of it) at a time.
const budgetSlots = 10

type budgetSlot struct {
	epoch   int64 // which slot of time (now/slotDur) the counts belong to
	calls   int64
	retries int64
}

func newBudget(t RetryBudgetConfig, clk clock.Clock) *RetryBudget {
	if t.Ratio > 0 {
		b := &RetryBudget{
			ratioMode: true,
			clk:       clock.OrReal(clk),
			pct:       int64(math.Round(t.Ratio * 1000)),
			floor:     int64(math.Round(t.MinPerSecond * t.Window.Seconds() * 1000)),
			slotDur:   max(int64(t.Window)/budgetSlots, 1),
		}
		b.base = b.clk.Now()
		for i := range b.slots {
			b.slots[i].epoch = math.MinInt64
		}
		return b
	}
	b := &RetryBudget{
		max:   int64(math.Round(t.MaxTokens * 1000)),
		ratio: int64(math.Round(t.TokenRatio * 1000)),
	}
	b.threshold = b.max / 2
	b.milli.Store(b.max)
	return b
}

// Record counts the outcome of an attempt. A token bucket takes one token for a failure (a
// class that counts against health) and gives back TokenRatio for a success. A ratio budget
// counts one call for any outcome that reached the service (success, business answer or
// failure; not a cancellation or a local rejection). The retry policy itself counts only
// first attempts as calls; a caller of Record should call it once per call.
func (b *RetryBudget) Record(v codes.Verdict) { b.record(v, true, time.Time{}) }

// record is Record for attempt outcomes of the retry loop: first says whether the attempt was
// the call's first, the only one a ratio budget counts as a call. now, when not zero, is a
// reading of the budget's clock that the caller took once the outcome was known, for its own
// use: a ratio budget counts the call then rather than read the clock again.
func (b *RetryBudget) record(v codes.Verdict, first bool, now time.Time) {
	if b.ratioMode {
		if first && (v.Class == codes.Success || v.Class == codes.Business || v.Class.Failure()) {
			if now.IsZero() {
				// The clock is read before the lock: a Clock that panics (the program's, with a
				// bug) must not leave the budget locked, and every retry of its method hung.
				e := b.epochNow()
				b.mu.Lock()
				b.callSlotLocked(e).calls++
				b.mu.Unlock()
			} else {
				e := b.epochOf(now)
				b.mu.Lock()
				b.callSlotLocked(e).calls++
				b.mu.Unlock()
			}
		}
		return
	}
	var delta int64
	switch {
	case v.Class == codes.Success:
		delta = b.ratio
	case v.Class.Failure():
		delta = -1000
	default:
		return
	}
	b.add(delta)
}

// callSlotLocked returns the slot a call whose reading of the clock is in epoch e counts in:
// e's, emptied if it last held an earlier epoch. A reading the caller took before the lock
// (record's now) may reach it out of order: a slot that already holds a later epoch (the
// caller was held up a whole window between its reading and the lock) keeps it, and the call
// counts there, as if it had read the clock as late as the call that moved the slot on;
// emptying the slot would lose that epoch's counts. A call that counts in a slot after a
// withdrawal summed it is seen by the next withdrawal, which reads the clock under the lock,
// so never in an epoch before a call's.
func (b *RetryBudget) callSlotLocked(e int64) *budgetSlot {
	s := &b.slots[e%budgetSlots]
	if s.epoch < e {
		*s = budgetSlot{epoch: e}
	}
	return s
}

// add changes a token bucket by delta, to at most max; a negative delta (a failure) leaves it
// at 0 at least, or as it is when it owes (see Withdraw): a failure takes nothing from an empty
// bucket.
func (b *RetryBudget) add(delta int64) {
	for {
		old := b.milli.Load()
		next := min(old+delta, b.max)
		if delta < 0 {
			next = max(next, min(old, 0))
		}
		if next == old || b.milli.CompareAndSwap(old, next) {
			return
		}
	}
}

// Allow reports whether a retry may be made. A token bucket allows it while it holds more
// than half its tokens, and takes nothing (the failure already took its token). A ratio
// budget allows it when one more retry stays within the budget, and then counts it: Allow is
// the retry's withdrawal.
func (b *RetryBudget) Allow() bool {
	ok, _ := b.allow()
	return ok
}

// allow is Allow for the retry loop: it also returns the receipt of what it took, for Refund:
// a ratio budget's counted retry; 0 for a token bucket's, which takes nothing.
func (b *RetryBudget) allow() (bool, int64) {
	if b.ratioMode {
		return b.Draw()
	}
	return b.milli.Load() > b.threshold, 0
}

// Withdraw takes what one extra attempt costs, when the budget has it, and reports whether it
// did; the retry policy calls it (through Allow) for retries, hedging policies for hedges. A
// token bucket gives it while it holds more than half its tokens and takes one token: a hedge
// costs what a failure costs, and successes pay it back at TokenRatio each. A bucket of fewer
// than two tokens may give it while it holds less than one: the bucket is empty then, and owes
// the rest of the token, which the next successes pay before they refill it, so that a Refund
// gives back the token Withdraw took, debt first, and no more. A ratio budget counts one retry
// when the window's retries stay within Ratio·calls + MinPerSecond·Window.
func (b *RetryBudget) Withdraw() bool {
	ok, _ := b.Draw()
	return ok
}

// tokenReceipt is the receipt of a token a token bucket's Draw took (see Refund).
const tokenReceipt = -1

// Draw is Withdraw (hedge.Refunder): with what it took, it returns the receipt by which Refund
// gives exactly that back, and 0 when it took nothing.
func (b *RetryBudget) Draw() (bool, int64) {
	if b.ratioMode {
		b.mu.Lock()
		defer b.mu.Unlock()
		now := b.epochNow()
		calls, retries := b.sumLocked(now)
		if (retries+1)*1000 > calls*b.pct+b.floor {
			return false, 0
		}
		b.slotLocked(now).retries++
		return true, now + 1 // the slot that counts it; never 0
	}
	for {
		old := b.milli.Load()
		if old <= b.threshold {
			return false, 0
		}
		if b.milli.CompareAndSwap(old, old-1000) {
			return true, tokenReceipt
		}
	}
}

// Refund gives back what a Draw (or the retry loop's Allow) took, by its receipt, for an extra
// attempt that never reached the service (a policy on this side of the wire refused it: an
// open breaker, a full bulkhead, the rate limit, the throttle). A token bucket gets its token
// back, up to MaxTokens: what the draw owes first, when it found less than a token (see
// Withdraw), then what it took; Allow took none. A ratio budget uncounts the retry from the
// slot of its window that counted it, while the slot still holds that epoch: once the slot has
// left the window, the retry has too, and there is nothing to give back (uncounting another
// retry instead would uncount another call's, sent). A hedging policy calls it
// (hedge.Refunder) for a hedge refused so, or one whose HedgeSent the observer panicked on,
// the retry loop for a retry refused so or one it drew for and then did not make (its caller
// gone during the backoff, the observer panicked on its RetryScheduled): load that was never
// sent spends nothing. A receipt of 0 gives back nothing.
func (b *RetryBudget) Refund(receipt int64) {
	switch {
	case receipt == tokenReceipt:
		b.add(1000)
	case receipt > 0:
		e := receipt - 1
		b.mu.Lock()
		if s := &b.slots[e%budgetSlots]; s.epoch == e && s.retries > 0 {
			s.retries--
		}
		b.mu.Unlock()
	}
}

// Tokens returns what the budget holds now: a token bucket's tokens (0 while it owes, see
// Withdraw), or the retries a ratio budget would still allow in its window (Ratio·calls +
// MinPerSecond·Window − retries, at least 0).
func (b *RetryBudget) Tokens() float64 {
	if b.ratioMode {
		b.mu.Lock()
		defer b.mu.Unlock()
		calls, retries := b.sumLocked(b.epochNow())
		return max(float64(calls*b.pct+b.floor-retries*1000)/1000, 0)
	}
	return float64(max(b.milli.Load(), 0)) / 1000
}

func (b *RetryBudget) epochNow() int64 {
	return max(int64(clock.Since(b.clk, b.base)), 0) / b.slotDur
}

// epochOf returns the epoch of now, a reading of the budget's clock. With the real clock, Sub
// reads the monotonic clock as Since does.
func (b *RetryBudget) epochOf(now time.Time) int64 {
	return max(int64(now.Sub(b.base)), 0) / b.slotDur
}

// slotLocked returns the slot of epoch e, emptied if it last held an older epoch.
func (b *RetryBudget) slotLocked(e int64) *budgetSlot {
	s := &b.slots[e%budgetSlots]
	if s.epoch != e {
		*s = budgetSlot{epoch: e}
	}
	return s
}

// sumLocked returns the calls and retries counted in the window that ends in epoch e.
func (b *RetryBudget) sumLocked(e int64) (calls, retries int64) {
	for i := range b.slots {
		s := &b.slots[i]
		if s.epoch > e-budgetSlots && s.epoch <= e {
			calls += s.calls
			retries += s.retries
		}
	}
	return calls, retries
}
