package bulkhead

import (
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes how a Bulkhead works. Build one with a WithX function. An Option is also a
// grpc.CallOption: passed to a call, only WithMaxWait has an effect; the others are ignored there.
type Option struct {
	grpc.EmptyCallOption

	kind       optionKind
	clock      clock.Clock
	sink       observe.Sink
	maxWait    time.Duration
	classifier *codes.Classifier
}

type optionKind uint8

const (
	optClock optionKind = iota + 1
	optSink
	optMaxWait
	optClassifier
)

// WithClock sets the clock that times bounded waits and, in adaptive mode, the latency of the
// calls the interceptors run. The default is clock.Real.
func WithClock(c clock.Clock) Option { return Option{kind: optClock, clock: c} }

// WithClassifier sets the classifier that tells an adaptive limit which outcomes are overload
// (see Bulkhead.ReleaseWith). The default, also used for nil, is codes.Default(). A fixed limit
// ignores it.
func WithClassifier(c *codes.Classifier) Option { return Option{kind: optClassifier, classifier: c} }

// WithObserver sets where rejection and limit events go. The default, nil, emits nothing.
func WithObserver(s observe.Sink) Option { return Option{kind: optSink, sink: s} }

// WithMaxWait overrides Config.MaxWait: how long a call may wait for a slot (0: fail fast).
// As a grpc.CallOption it applies to one call.
func WithMaxWait(d time.Duration) Option { return Option{kind: optMaxWait, maxWait: max(d, 0)} }

// callMaxWait returns the MaxWait for one call: the last WithMaxWait among opts, else def.
// It allocates nothing.
func callMaxWait(def time.Duration, opts []grpc.CallOption) time.Duration {
	for _, o := range opts {
		if bo, ok := o.(Option); ok && bo.kind == optMaxWait {
			def = bo.maxWait
		}
	}
	return def
}
