package ratelimit

import (
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes a Local, Registry or Policy. Build one with a WithX function; an option that
// does not apply to what is built is ignored. An Option is also a grpc.CallOption: passed to a
// call, only WithMaxWait has an effect.
type Option struct {
	grpc.EmptyCallOption

	kind     optionKind
	clock    clock.Clock
	sink     observe.Sink
	registry *Registry
	maxWait  time.Duration
}

type optionKind uint8

const (
	optClock optionKind = iota + 1
	optSink
	optRegistry
	optMaxWait
)

// WithClock sets the clock that refills buckets, times waits and stamps events. The default is
// clock.Real. A Registry passes its clock to the buckets it makes.
func WithClock(c clock.Clock) Option { return Option{kind: optClock, clock: c} }

// WithObserver sets where a Policy's rejection events go. The default, nil, emits nothing.
func WithObserver(s observe.Sink) Option { return Option{kind: optSink, sink: s} }

// WithRegistry makes New take its bucket from r when Config.Shared names one.
func WithRegistry(r *Registry) Option { return Option{kind: optRegistry, registry: r} }

// WithMaxWait overrides Config.MaxWait for a Policy, or, as a grpc.CallOption, for one call.
func WithMaxWait(d time.Duration) Option { return Option{kind: optMaxWait, maxWait: max(d, 0)} }

// callMaxWait returns the wait for one call: the last WithMaxWait among opts, else def.
func callMaxWait(def time.Duration, opts []grpc.CallOption) time.Duration {
	for _, o := range opts {
		if ro, ok := o.(Option); ok && ro.kind == optMaxWait {
			def = ro.maxWait
		}
	}
	return def
}

func clockOf(opts []Option) clock.Clock {
	c := clock.Real
	for _, o := range opts {
		if o.kind == optClock {
			c = clock.OrReal(o.clock)
		}
	}
	return c
}
