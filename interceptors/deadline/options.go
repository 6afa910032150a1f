package deadline

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Option changes a Policy. Options are built only by the With functions. The deadline policy
// has no per-call options: a caller who wants another deadline sets it on its context.
type Option struct {
	apply func(*Policy)
}

// WithClock sets the clock that reads the time and keeps the deadlines set. The default is
// clock.Real.
func WithClock(c clock.Clock) Option {
	return Option{apply: func(p *Policy) { p.clock = clock.OrReal(c) }}
}

// WithObserver sets the sink that receives DeadlineApplied events. With none, no event is built.
func WithObserver(s observe.Sink) Option {
	return Option{apply: func(p *Policy) { p.sink = s }}
}
