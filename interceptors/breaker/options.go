package breaker

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Option changes how a Breaker (or the interceptors that resolve breakers in a Registry) is
// built. Build one with a WithX function; the zero Option does nothing.
//
// An Option is not a grpc.CallOption, so passing one to a call does not compile: what one call
// may change is a CallOption.
type Option struct {
	o        optkit.Option // the common options, or the kind of the ones below
	str      string
	registry *Registry
}

// The breaker's own option kinds.
const (
	optService = optkit.KindLocal + iota
	optMethod
	optRegistry
)

// options is what Options set.
type options struct {
	optkit.Common
	service  string
	method   string
	registry *Registry
}

func buildOptions(opts []Option) options {
	o := options{Common: optkit.Defaults(), registry: DefaultRegistry}
	for _, opt := range opts {
		switch opt.o.Kind {
		case optService:
			o.service = opt.str
		case optMethod:
			o.method = opt.str
		case optRegistry:
			if opt.registry != nil {
				o.registry = opt.registry
			}
		default:
			o.Apply(opt.o)
		}
	}
	return o
}

// WithClock sets the clock that times the recovery timeout, the time window and slow calls.
// The default is clock.Real.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithClock(c clock.Clock) Option { return Option{o: optkit.Clock(c)} }

// WithObserver sets where state-change and rejection events go. The default, nil, emits nothing
// and builds no event.
// A nil pointer of the caller's own type (a variable left unset) is an error at New.
func WithObserver(s observe.Sink) Option { return Option{o: optkit.Observer(s)} }

// WithClassifier sets the classifier that decides which outcomes count as failures. The default
// is codes.Default(). For one call, pass WithCallClassifier with it.
func WithClassifier(c *codes.Classifier) Option { return Option{o: optkit.Classifier(c)} }

// WithService sets the service named in events and rejections when it differs from the
// breaker's name. The interceptors that resolve breakers in a Registry set it themselves.
func WithService(service string) Option {
	return Option{o: optkit.Option{Kind: optService}, str: service}
}

// WithRegistry sets the Registry in which UnaryClientInterceptor and StreamClientInterceptor
// find or create their breakers. The default is DefaultRegistry. New ignores it.
func WithRegistry(r *Registry) Option {
	return Option{o: optkit.Option{Kind: optRegistry}, registry: r}
}

// withMethod names the full method of a method-scoped breaker, for its events.
func withMethod(method string) Option {
	return Option{o: optkit.Option{Kind: optMethod}, str: method}
}

// CallOption changes one call guarded by a breaker; pass it with the call (it is a
// grpc.CallOption, and passes through a suite). Build one with WithCallClassifier; the zero
// CallOption does nothing.
type CallOption struct {
	grpc.EmptyCallOption

	classifier *codes.Classifier
}

// WithCallClassifier, passed to a call, sets the classifier that decides how that call's
// outcome is counted, instead of the breaker's (WithClassifier). nil leaves the breaker's.
func WithCallClassifier(c *codes.Classifier) CallOption { return CallOption{classifier: c} }

// callClassifier returns the classifier for one call: the last WithCallClassifier among opts,
// else def. It allocates nothing.
func callClassifier(def *codes.Classifier, opts []grpc.CallOption) *codes.Classifier {
	return calloption.Last(opts, def, CallOption.classifierSet)
}

func (o CallOption) classifierSet() (*codes.Classifier, bool) {
	return o.classifier, o.classifier != nil
}
