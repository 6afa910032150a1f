package throttle

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes how a Throttle is built. Build one with a WithX function; the zero Option
// does nothing.
//
// An Option is not a grpc.CallOption, so passing one to a call does not compile: what one call
// may change is a CallOption.
type Option struct {
	o optkit.Option
}

// buildOptions returns what opts set.
func buildOptions(opts []Option) optkit.Common {
	return optkit.Build(opts, func(o Option) optkit.Option { return o.o })
}

// WithClock sets the clock that moves the window. The default is clock.Real.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithClock(c clock.Clock) Option { return Option{optkit.Clock(c)} }

// WithObserver sets where rejection events go. The default, nil, emits nothing and builds no
// event.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithObserver(s observe.Sink) Option { return Option{optkit.Observer(s)} }

// WithClassifier sets the classifier that decides which outcomes the interceptors count as
// accepts. The default is codes.Default(). For one call, pass WithCallClassifier with it.
func WithClassifier(c *codes.Classifier) Option { return Option{optkit.Classifier(c)} }

// WithRand sets the source of the uniform numbers in [0, 1) that a request's fate is drawn
// from: a request is rejected when the draw is below the rejection probability. It is called
// from many goroutines at once and must be safe for concurrent use. The default, also used for
// nil, is math/rand/v2's Float64. Tests pass a deterministic sequence.
func WithRand(f func() float64) Option { return Option{optkit.Rand(f)} }

// CallOption changes one throttled call; pass it with the call (it is a grpc.CallOption, and
// passes through a suite). Build one with Disable or WithCallClassifier; the zero CallOption
// does nothing.
type CallOption struct {
	grpc.EmptyCallOption

	disable    bool
	classifier *codes.Classifier
}

// Disable, passed to a call, takes that call out of the throttle: it is never rejected and its
// outcome is not counted (for a health check, or an operator's manual probe).
func Disable() CallOption { return CallOption{disable: true} }

// WithCallClassifier, passed to a call, sets the classifier that decides whether that call's
// outcome is an accept, instead of the throttle's (WithClassifier). nil leaves the throttle's.
func WithCallClassifier(c *codes.Classifier) CallOption { return CallOption{classifier: c} }

// callSettings returns what opts say about one call: whether the throttle is disabled for it,
// and its classifier (the last WithCallClassifier among opts, else def). It allocates nothing.
func callSettings(def *codes.Classifier, opts []grpc.CallOption) (disabled bool, c *codes.Classifier) {
	c = def
	calloption.Scan(opts, func(o CallOption) {
		disabled = disabled || o.disable
		if o.classifier != nil {
			c = o.classifier
		}
	})
	return disabled, c
}
