package hedge

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Budget is what hedges draw from: one successful Withdraw per hedge. *retry.RetryBudget (from
// retry.Policy.Budget) is one, so that hedges and retries of a service share a single retry
// budget. Implementations must be safe for concurrent use.
type Budget interface {
	// Withdraw takes what one extra attempt costs and reports whether it could.
	Withdraw() bool
}

// Refunder is a Budget that can give a draw back: a hedge that a policy below the hedge
// refused (it never reached the service) gives back, once, what its Draw took, so that a
// refused hedge costs the budget nothing, as it costs the allowance nothing. *retry.RetryBudget
// is one. A Budget that is not a Refunder keeps what refused hedges took.
type Refunder interface {
	Budget
	// Draw is Withdraw that also returns a receipt of what it took (0: nothing), by which
	// Refund gives exactly that back: a budget that counts over a window refunds the slot
	// that counted it, or nothing once it has left the window.
	Draw() (ok bool, receipt int64)
	// Refund gives back what the Draw of receipt took.
	Refund(receipt int64)
}

// Option changes how a Policy is built: give it to New. Build one with WithClock,
// WithClassifier, WithObserver or WithBudget; the zero Option does nothing.
//
// An Option is not a grpc.CallOption: what one call may change is a CallOption.
type Option struct {
	base     attempt.BaseOption
	budget   Budget
	isBudget bool
}

// settings is what Options set: the policy's, fixed at New.
type settings struct {
	attempt.Base
	budget Budget // nil: no limit
}

func (s *settings) apply(o Option) {
	if !s.Set(o.base) && o.isBudget {
		s.budget = o.budget
	}
}

// WithClock sets the clock that times the hedging delay and measures latencies. The default
// is clock.Real.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithClock(c clock.Clock) Option { return Option{base: attempt.WithClock(c)} }

// WithClassifier sets the classifier that decides which outcomes are fatal (they end the call)
// and which are not (the other attempts go on). The default is codes.Default().
func WithClassifier(c *codes.Classifier) Option { return Option{base: attempt.WithClassifier(c)} }

// WithObserver sets the sink that receives AttemptFinished, HedgeSent and HedgeWon events.
// With none (the default) no event is built. For one call, pass WithCallObserver.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithObserver(sink observe.Sink) Option { return Option{base: attempt.WithSink(sink)} }

// WithBudget makes every hedge draw from b, a pointer to a Budget (a *retry.RetryBudget, as
// retry.Policy.Budget returns): a hedge is sent only when b.Withdraw() succeeds, and once it
// fails no further hedge of that call is sent. A nil b (what retry.Policy.Budget returns when
// throttling is off) means no limit, the default. For a Budget that is not a pointer, use
// WithBudgetOf.
func WithBudget[T any, B interface {
	*T
	Budget
}](b B) Option {
	if b == nil {
		return Option{isBudget: true}
	}
	return Option{isBudget: true, budget: b}
}

// WithBudgetOf is WithBudget for any Budget; a nil interface means no limit. (A nil pointer
// inside b is not detected: pass pointers to WithBudget.)
func WithBudgetOf(b Budget) Option { return Option{isBudget: true, budget: b} }

// CallOption changes one hedged call: pass it with the call (it is a grpc.CallOption, and
// passes through a suite). Build one with Disable, WithIdempotent or WithCallObserver.
type CallOption struct {
	grpc.EmptyCallOption
	s attempt.Setting
}

// WithIdempotent overrides the idempotency rule for the call: true lets a method whose
// descriptor says nothing be hedged (as Config.Idempotent does), false forbids hedging even a
// method that is NO_SIDE_EFFECTS. It is the way to hedge one request the caller knows to be
// safe (one that carries an idempotency key, say).
func WithIdempotent(ok bool) CallOption { return CallOption{s: attempt.Idempotent(ok)} }

// Disable turns the policy off for the call: it goes straight to the invoker (a stream to the
// streamer), with one attempt, no events and no latency sample.
func Disable() CallOption { return CallOption{s: attempt.Disable()} }

// WithCallObserver sends the call's events to sink instead of the policy's (WithObserver).
func WithCallObserver(sink observe.Sink) CallOption { return CallOption{s: attempt.Sink(sink)} }

// callOf reads the hedge CallOptions among opts. It allocates nothing.
func callOf(opts []grpc.CallOption) (c attempt.PerCall) {
	calloption.Scan(opts, func(o CallOption) { c.Apply(o.s) })
	return c
}
