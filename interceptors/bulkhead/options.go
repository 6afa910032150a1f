package bulkhead

import (
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes how a Bulkhead is built. Build one with a WithX function; the zero Option
// does nothing.
//
// An Option is not a grpc.CallOption, so passing one to a call does not compile: what one call
// may change (how long it may wait for a slot) is a CallOption.
type Option struct {
	o   optkit.Option // the common options, or the kind of the one below
	str string
}

// The bulkhead's own option kinds.
const (
	optService = optkit.KindLocal + iota
)

// options is what Options set.
type options struct {
	optkit.Common
	service string
}

func buildOptions(opts []Option) options {
	o := options{Common: optkit.Defaults()}
	for _, opt := range opts {
		if opt.o.Kind == optService {
			o.service = opt.str
			continue
		}
		o.Apply(opt.o)
	}
	return o
}

// WithClock sets the clock that times bounded waits and, in adaptive mode, the latency of the
// calls the interceptors run. The default is clock.Real.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithClock(c clock.Clock) Option { return Option{o: optkit.Clock(c)} }

// WithClassifier sets the classifier that tells an adaptive limit which outcomes are overload
// (see Bulkhead.ReleaseWith). The default, also used for nil, is codes.Default(). A fixed limit
// ignores it.
func WithClassifier(c *codes.Classifier) Option { return Option{o: optkit.Classifier(c)} }

// WithObserver sets where rejection and limit events go. The default, nil, emits nothing.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithObserver(s observe.Sink) Option { return Option{o: optkit.Observer(s)} }

// WithService sets the service named in rejections, events and levels when the bulkhead's
// name is not it: a bulkhead shared by several services, say. A bulkhead named by a full
// method "/pkg.Service/Method" names its service without it (see New). Empty leaves the
// default.
func WithService(service string) Option {
	return Option{o: optkit.Option{Kind: optService}, str: service}
}

// CallOption changes one call that goes through a bulkhead; pass it with the call (it is a
// grpc.CallOption, and passes through a suite). Build one with WithMaxWait; the zero CallOption
// does nothing.
type CallOption struct {
	grpc.EmptyCallOption

	maxWait time.Duration
	set     bool
}

// WithMaxWait, passed to a call, sets how long that call may wait for a slot instead of
// Config.MaxWait (0 or less: fail fast).
func WithMaxWait(d time.Duration) CallOption { return CallOption{maxWait: max(d, 0), set: true} }

// callMaxWait returns the wait for one call: the last WithMaxWait among opts, else def. It
// allocates nothing.
func callMaxWait(def time.Duration, opts []grpc.CallOption) time.Duration {
	return calloption.Last(opts, def, CallOption.maxWaitSet)
}

func (o CallOption) maxWaitSet() (time.Duration, bool) { return o.maxWait, o.set }
