package hedge

import (
	"reflect"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
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

// Option changes a Policy. Options are built only by the With functions and Disable.
//
// An Option is also a grpc.CallOption: passed to New it sets the policy's defaults, passed to
// one call (client.Compare(ctx, req, hedge.Disable())) it overrides them for that call only.
type Option struct {
	grpc.EmptyCallOption
	apply func(*settings)
}

// settings is what options change. The policy keeps one; a call with options works on a copy.
type settings struct {
	clock      clock.Clock
	classifier *codes.Classifier
	sink       observe.Sink
	budget     Budget // nil: no limit
	disabled   bool
	// idempotent: 0 follows the method descriptor and Config.Idempotent, 1 forces yes, -1 no.
	idempotent int8
}

// WithClock sets the clock that times the hedging delay and measures latencies. The default
// is clock.Real.
func WithClock(c clock.Clock) Option {
	return Option{apply: func(s *settings) { s.clock = clock.OrReal(c) }}
}

// WithClassifier sets the classifier that decides which outcomes are fatal (they end the call)
// and which are not (the other attempts go on). The default is codes.Default().
func WithClassifier(c *codes.Classifier) Option {
	return Option{apply: func(s *settings) {
		if c != nil {
			s.classifier = c
		}
	}}
}

// WithObserver sets the sink that receives AttemptFinished, HedgeSent and HedgeWon events.
// With none (the default) no event is built.
func WithObserver(sink observe.Sink) Option {
	return Option{apply: func(s *settings) { s.sink = sink }}
}

// WithBudget makes every hedge draw from b: a hedge is sent only when b.Withdraw() succeeds,
// and once it fails no further hedge of that call is sent. A nil b, or a nil pointer in b
// (what retry.Policy.Budget returns when throttling is off), means no limit, the default.
func WithBudget(b Budget) Option {
	if b != nil {
		if v := reflect.ValueOf(b); v.Kind() == reflect.Pointer && v.IsNil() {
			b = nil
		}
	}
	return Option{apply: func(s *settings) { s.budget = b }}
}

// WithIdempotent overrides the idempotency rule: true lets methods whose descriptor says
// nothing be hedged (as Config.Idempotent does), false forbids hedging even methods that are
// NO_SIDE_EFFECTS. Per call, it is the way to hedge one request the caller knows to be safe
// (one that carries an idempotency key, say).
func WithIdempotent(ok bool) Option {
	v := int8(-1)
	if ok {
		v = 1
	}
	return Option{apply: func(s *settings) { s.idempotent = v }}
}

// Disable turns the policy off: calls go straight to the invoker (streams to the streamer),
// with one attempt, no events and no latency sample.
func Disable() Option {
	return Option{apply: func(s *settings) { s.disabled = true }}
}

// change is what o does to a call's settings (nil: nothing), for calloption.Settings.
func (o Option) change() func(*settings) { return o.apply }
