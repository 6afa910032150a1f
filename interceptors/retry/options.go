package retry

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes a Policy. Options are built only by the With functions and Disable and Report.
//
// An Option is also a grpc.CallOption: passed to New it sets the policy's defaults, passed to
// one call (client.Compare(ctx, req, retry.WithMax(1))) it overrides them for that call only.
// Report is meaningful only per call; New rejects it.
type Option struct {
	grpc.EmptyCallOption
	apply   func(*settings)
	perCall bool // only meaningful on one call
}

// settings is what options change. The policy keeps one; a call with options works on a copy.
type settings struct {
	clock      clock.Clock
	rand       func() float64
	classifier *codes.Classifier
	sink       observe.Sink
	// maxAttempts overrides Config.MaxAttempts when > 0.
	maxAttempts int
	disabled    bool
	// idempotent: 0 follows the method descriptor and Config.Idempotent, 1 forces yes, -1 no.
	idempotent int8
	// reports receive Info on return; two slots so that a suite and its caller can both ask.
	report, report2 *Info
}

// WithClock sets the clock that times backoff sleeps, per-attempt timeouts and the budget.
// The default is clock.Real.
func WithClock(c clock.Clock) Option {
	return Option{apply: func(s *settings) { s.clock = clock.OrReal(c) }}
}

// WithRand sets the random source of the jitter: a function returning a number in [0, 1).
// It is called from every goroutine that runs a call, so it must be safe for concurrent use
// (wrap a *rand.Rand in a mutex). The default is math/rand/v2's Float64.
func WithRand(f func() float64) Option {
	return Option{apply: func(s *settings) {
		if f != nil {
			s.rand = f
		}
	}}
}

// WithClassifier sets the classifier that decides which outcomes are retried. The default is
// codes.Default().
func WithClassifier(c *codes.Classifier) Option {
	return Option{apply: func(s *settings) {
		if c != nil {
			s.classifier = c
		}
	}}
}

// WithObserver sets the sink that receives AttemptFinished, RetryScheduled and
// RetriesExhausted events. With none (the default) no event is built.
func WithObserver(sink observe.Sink) Option {
	return Option{apply: func(s *settings) { s.sink = sink }}
}

// WithMax sets the most attempts, the first one included (n ≥ 1; smaller values are ignored).
// Per call, it overrides Config.MaxAttempts; with 1 the call is not retried.
func WithMax(n int) Option {
	return Option{apply: func(s *settings) {
		if n >= 1 {
			s.maxAttempts = min(n, 100)
		}
	}}
}

// WithIdempotent overrides the idempotency rule: true lets methods whose descriptor says
// nothing be retried (as Config.Idempotent does), false forbids retrying even methods that
// are NO_SIDE_EFFECTS. Per call, it is the way to retry one request the caller knows to be
// safe (one that carries an idempotency key, say).
func WithIdempotent(ok bool) Option {
	v := int8(-1)
	if ok {
		v = 1
	}
	return Option{apply: func(s *settings) { s.idempotent = v }}
}

// Disable turns the policy off: calls go straight to the invoker, with no attempt accounting,
// no events and no Report.
func Disable() Option {
	return Option{apply: func(s *settings) { s.disabled = true }}
}

// Report makes the call write what the retry policy did to *info every time it returns,
// success or failure: attempts made, total elapsed time, last code and why retrying stopped.
// For streams, *info is written once the stream commits or fails for good. Per call only.
// Up to two Report options on one call are each written (a suite's and its caller's).
func Report(info *Info) Option {
	return Option{perCall: true, apply: func(s *settings) {
		if s.report == nil || s.report == info {
			s.report = info
		} else {
			s.report2 = info
		}
	}}
}

// change is what o does to a call's settings (nil: nothing), for calloption.Settings.
func (o Option) change() func(*settings) { return o.apply }
