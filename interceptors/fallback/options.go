package fallback

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Option changes a Fallback. Build one with a WithX function. Unlike the other policies' options
// it is not a grpc.CallOption: what a call falls back to is fixed when the policy is built.
type Option struct {
	kind       optionKind
	clock      clock.Clock
	sink       observe.Sink
	classifier *codes.Classifier
}

type optionKind uint8

const (
	optClock optionKind = iota + 1
	optSink
	optClassifier
)

// WithClock sets the clock that stamps events. The default is clock.Real.
func WithClock(c clock.Clock) Option { return Option{kind: optClock, clock: c} }

// WithObserver sets where FallbackServed events go. The default, nil, emits nothing.
func WithObserver(s observe.Sink) Option { return Option{kind: optSink, sink: s} }

// WithClassifier sets the classifier that decides an error's class. The default is
// codes.Default().
func WithClassifier(c *codes.Classifier) Option { return Option{kind: optClassifier, classifier: c} }
