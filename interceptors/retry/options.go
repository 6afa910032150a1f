package retry

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes how a Policy is built: give it to New. Build one with WithClock, WithRand,
// WithClassifier or WithObserver; the zero Option does nothing.
//
// An Option is not a grpc.CallOption: what one call may change is a CallOption.
type Option struct {
	base attempt.BaseOption
	rand func() float64
}

// settings is what Options set: the policy's, fixed at New.
type settings struct {
	attempt.Base
	rand func() float64
}

func (s *settings) apply(o Option) {
	if !s.Set(o.base) && o.rand != nil {
		s.rand = o.rand
	}
}

// WithClock sets the clock that times backoff sleeps, per-attempt timeouts and the budget.
// The default is clock.Real.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithClock(c clock.Clock) Option { return Option{base: attempt.WithClock(c)} }

// WithRand sets the random source of the jitter: a function returning a number in [0, 1).
// It is called from every goroutine that runs a call, so it must be safe for concurrent use
// (wrap a *rand.Rand in a mutex). The default is math/rand/v2's Float64.
func WithRand(f func() float64) Option { return Option{rand: f} }

// WithClassifier sets the classifier that decides which outcomes are retried. The default is
// codes.Default().
func WithClassifier(c *codes.Classifier) Option { return Option{base: attempt.WithClassifier(c)} }

// WithObserver sets the sink that receives AttemptFinished, RetryScheduled and
// RetriesExhausted events. With none (the default) no event is built. For one call, pass
// WithCallObserver.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithObserver(sink observe.Sink) Option { return Option{base: attempt.WithSink(sink)} }

// CallOption changes one call of a Policy: pass it with the call (it is a grpc.CallOption, and
// passes through a suite), or to Policy.Do. Build one with WithMax, WithIdempotent, Disable,
// Report or WithCallObserver.
type CallOption struct {
	grpc.EmptyCallOption
	s      attempt.Setting
	report *Info
}

// WithMax sets the most attempts of the call, the first one included (n ≥ 1, at most 100;
// smaller values are ignored), instead of Config.MaxAttempts; with 1 the call is not retried.
func WithMax(n int) CallOption { return CallOption{s: attempt.Max(n)} }

// WithIdempotent overrides the idempotency rule for the call: true lets a method whose
// descriptor says nothing be retried (as Config.Idempotent does), false forbids retrying even
// a method that is NO_SIDE_EFFECTS. It is the way to retry one request the caller knows to be
// safe (one that carries an idempotency key, say).
func WithIdempotent(ok bool) CallOption { return CallOption{s: attempt.Idempotent(ok)} }

// Disable turns the policy off for the call: it goes straight to the invoker, with no attempt
// accounting, no events and no Report. Through a suite (InvokeKept with a section.Timing,
// InvokeGated, and a suite's stream step) the call's one request is still reported, by one
// AttemptFinished (attempt 1), as the suite reports that of a chain without a retry step:
// every request sent is reported once (see observe.AttemptFinished). A stream's is reported
// when the stream ends, however it ends (its caller's context ending while nobody reads it
// included), but for a panic (see observe.AttemptFinished).
func Disable() CallOption { return CallOption{s: attempt.Disable()} }

// WithCallObserver sends the call's events to sink instead of the policy's (WithObserver).
func WithCallObserver(sink observe.Sink) CallOption { return CallOption{s: attempt.Sink(sink)} }

// Report makes the call write what the retry policy did to *info every time it returns,
// success or failure: requests sent (Info.Attempts: hedges below included), total elapsed
// time, last code and why retrying stopped. For streams, *info is written when the stream
// ends (the package documentation says what ends one), so a stream its caller abandons writes
// nothing. Up to two Report options on one call are each written (a suite's and its caller's).
func Report(info *Info) CallOption { return CallOption{report: info} }

// call is what one call changes of the policy's settings. The zero value changes nothing.
type call struct {
	attempt.PerCall
	// reports receive Info on return; two slots so that a suite and its caller can both ask.
	report, report2 *Info
	// onFinish says that the caller's options hold a grpc.OnFinish: the unary loop gives the
	// attempts the options without it and calls it once, when the call ends.
	onFinish bool
}

func (c *call) apply(o CallOption) {
	if o.report != nil {
		if c.report == nil || c.report == o.report {
			c.report = o.report
		} else {
			c.report2 = o.report
		}
		return
	}
	c.PerCall.Apply(o.s)
}

// callOf reads the retry CallOptions among opts. It allocates nothing.
func callOf(opts []grpc.CallOption) (c call) {
	c.read(opts)
	return c
}

// read applies the retry CallOptions among opts to c, in place (no copy of c in the caller's
// frame, which every attempt's stack holds).
//
//go:noinline
func (c *call) read(opts []grpc.CallOption) {
	for _, o := range opts {
		switch o := o.(type) {
		case CallOption:
			c.apply(o)
		case grpc.OnFinishCallOption:
			c.onFinish = true
		}
	}
}
