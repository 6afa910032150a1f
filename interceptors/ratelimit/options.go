package ratelimit

import (
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes a Local, Registry or Policy as it is built. Build one with a WithX function;
// an option that does not apply to what is built is ignored, and the zero Option does nothing.
//
// An Option is not a grpc.CallOption, so passing one to a call does not compile: what one call
// may change (how long it may wait for a token) is a CallOption.
type Option struct {
	o        optkit.Option // the common options, or the kind of the one below
	registry *Registry
}

// optRegistry is the kind of WithRegistry.
const optRegistry = optkit.KindLocal

// options is what Options set.
type options struct {
	optkit.Common
	registry *Registry
}

func buildOptions(opts []Option) options {
	o := options{Common: optkit.Defaults()}
	for _, opt := range opts {
		if opt.o.Kind == optRegistry {
			o.registry = opt.registry
			continue
		}
		o.Apply(opt.o)
	}
	return o
}

// WithClock sets the clock that refills buckets, times waits and stamps events. The default is
// clock.Real. A Registry passes its clock to the buckets it makes.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithClock(c clock.Clock) Option { return Option{o: optkit.Clock(c)} }

// WithObserver sets where a Policy's rejection events go. The default, nil, emits nothing.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithObserver(s observe.Sink) Option { return Option{o: optkit.Observer(s)} }

// WithRegistry makes New take its bucket from r when Config.Shared names one.
func WithRegistry(r *Registry) Option {
	return Option{o: optkit.Option{Kind: optRegistry}, registry: r}
}

// CallOption changes one rate-limited call; pass it with the call (it is a grpc.CallOption,
// and passes through a suite). Build one with WithMaxWait; the zero CallOption does nothing.
type CallOption struct {
	grpc.EmptyCallOption

	maxWait time.Duration
	set     bool
}

// WithMaxWait, passed to a call, sets how long that call may wait for a token instead of
// Config.MaxWait (0 or less: answer at once).
func WithMaxWait(d time.Duration) CallOption { return CallOption{maxWait: max(d, 0), set: true} }

// callMaxWait returns the wait for one call: the last WithMaxWait among opts, else def. It
// allocates nothing.
func callMaxWait(def time.Duration, opts []grpc.CallOption) time.Duration {
	return calloption.Last(opts, def, CallOption.maxWaitSet)
}

func (o CallOption) maxWaitSet() (time.Duration, bool) { return o.maxWait, o.set }
