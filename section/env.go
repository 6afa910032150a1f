package section

import (
	"reflect"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Env is what Build gets besides the section's value: the chain being built and what the
// suite provides. Build must not keep env.
type Env struct {
	// Service is the fully qualified service of the chain ("kyc.v1.OCRService").
	Service string
	// FullMethod is the chain's full method ("/kyc.v1.OCRService/Extract"). The one chain
	// that a service's methods without entries of their own share is built for the method
	// "*".
	FullMethod string
	// Name is the object's name (Spec.Name).
	Name string
	// Budget bounds every call (config.Config.Budget).
	Budget time.Duration
	// Clock, Sink and Rand are the suite's; Rand is nil for the policy's default source.
	Clock clock.Clock
	Sink  observe.Sink
	Rand  func() float64
	// Classifier is the chain's classifier: codes.Default() with the policy's overrides.
	Classifier *codes.Classifier
	// Values holds the suite's values for particular policies, by type (fallback replies, a
	// breaker registry, a remote limiter factory); read them with Value. Do not change it.
	Values map[reflect.Type]any
	// Earlier holds the steps already built for this chain, outer ones, by section: the
	// hedge step finds the retry step's budget there.
	Earlier map[Key]Built
	// Replacing is true when an object of this section and name was built before with
	// another fingerprint and is being replaced (a breaker drops it from its registry).
	Replacing bool
	// OnClose registers a func to run when the object leaves the suite: on Close, also for
	// an object replaced by a reload (calls in flight may still use it until then). Nil for
	// stateless sections.
	OnClose func(close func() error)
}

// Value returns the suite's value of type T (see Env.Values), if it has one.
func Value[T any](env *Env) (T, bool) {
	v, ok := env.Values[reflect.TypeFor[T]()].(T)
	return v, ok
}

// Built is a step of a chain: what Build returns.
type Built struct {
	Unary  grpc.UnaryClientInterceptor
	Stream grpc.StreamClientInterceptor
	// Object is the policy object behind the step, if any. The suite asks it for what it
	// can do besides intercepting: observe.LevelSource (live levels); a deadline it can
	// declare to the attempt loop after it, instead of setting it in a context
	// (Deadline(ctx, method) (time.Time, bool)); an attempt loop that takes such a deadline
	// (InvokeWithin, see retry.Policy).
	Object any
}

// Capped returns d bounded by the call budget, 0 meaning the budget: what a policy's own
// total (deadline max, retry budget) may be in a suite.
func (env *Env) Capped(d time.Duration) time.Duration {
	if d == 0 || d > env.Budget {
		return env.Budget
	}
	return d
}

// Interceptors is a policy object that intercepts unary and stream calls.
type Interceptors interface {
	Unary() grpc.UnaryClientInterceptor
	Stream() grpc.StreamClientInterceptor
}

// Step returns the step of policy object o, made by a constructor that returned err: Build's
// usual last line is return section.Step(New(...)).
func Step[O Interceptors](o O, err error) (Built, error) {
	if err != nil {
		return Built{}, err
	}
	return Built{Unary: o.Unary(), Stream: o.Stream(), Object: o}, nil
}
