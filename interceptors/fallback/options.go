package fallback

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Option changes a Fallback as it is built. Build one with a WithX function; the zero Option
// does nothing.
//
// An Option is not a grpc.CallOption, so passing one to a call does not compile. The fallback
// has no per-call options: what a call falls back to is fixed when the policy is built.
type Option struct {
	o optkit.Option
}

// WithClock sets the clock that stamps events. The default, also used for nil, is clock.Real;
// a clock that holds a nil pointer is an error of New.
func WithClock(c clock.Clock) Option { return Option{optkit.Clock(c)} }

// WithObserver sets where FallbackServed events go. The default, nil, emits nothing; a sink
// that holds a nil pointer (a typed nil) is an error of New.
func WithObserver(s observe.Sink) Option { return Option{optkit.Observer(s)} }

// WithClassifier sets the classifier that decides an error's class. The default, also used for
// nil, is codes.Default().
func WithClassifier(c *codes.Classifier) Option { return Option{optkit.Classifier(c)} }
