package bulkhead

import (
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes how a Bulkhead works. Build one with a WithX function. An Option is also a
// grpc.CallOption: passed to a call, only WithMaxWait has an effect; the others are ignored there.
type Option struct {
	grpc.EmptyCallOption

	kind    optionKind
	clock   clock.Clock
	sink    observe.Sink
	maxWait time.Duration
}

type optionKind uint8

const (
	optClock optionKind = iota + 1
	optSink
	optMaxWait
)

// WithClock sets the clock that times bounded waits. The default is clock.Real.
func WithClock(c clock.Clock) Option { return Option{kind: optClock, clock: c} }

// WithObserver sets where rejection events go. The default, nil, emits nothing.
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
