package deadline

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Option changes a Policy as it is built. Build one with a WithX function; the zero Option
// does nothing.
//
// An Option is not a grpc.CallOption, so passing one to a call does not compile. The deadline
// policy has no per-call options: a caller who wants another deadline sets it on its context.
type Option struct {
	o optkit.Option
}

// WithClock sets the clock that reads the time and keeps the deadlines set. The default is
// clock.Real, also for nil; a clock that holds a nil pointer is an error of New.
func WithClock(c clock.Clock) Option { return Option{optkit.Clock(c)} }

// WithObserver sets the sink that receives DeadlineApplied events. A call whose context carries
// a call sink (observe.WithCallSink) sends its DeadlineApplied to that sink too. With neither,
// no event is built. A sink that holds a nil pointer (a typed nil) is an error of New.
func WithObserver(s observe.Sink) Option { return Option{optkit.Observer(s)} }
