// Package optkit holds what the policy packages' options have in common, written once: the
// construction options every policy takes (a clock, an observer, a classifier, a source of
// random numbers), kind-tagged with room for a package's own kinds, and the one shape of the
// package-level UnaryClientInterceptor and StreamClientInterceptor functions.
//
// A policy package wraps Option in its own exported Option type (so that an Option of one
// package cannot be passed to another, and none of them is a grpc.CallOption) and reads its
// options with Apply or Build at construction. Per-call options are not here: they are each
// package's CallOption, read with internal/calloption.
package optkit

import (
	"math/rand/v2"
	"reflect"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Kind tags an Option: one of the common kinds below, or a package's own, numbered from
// KindLocal. The zero Kind is an Option that sets nothing.
type Kind uint8

// The common kinds.
const (
	KindClock Kind = iota + 1
	KindSink
	KindClassifier
	KindRand
	// KindLocal is the first kind a package may give its own options: KindLocal + iota.
	KindLocal
)

// Option is one construction option: a common one made by Clock, Observer, Classifier or Rand,
// or, with a Kind from KindLocal on, the tag of a package's own option whose value the package
// keeps beside it. It is a small value, not comparable (it holds a func); building one
// allocates nothing.
type Option struct {
	Kind       Kind
	clock      clock.Clock
	sink       observe.Sink
	classifier *codes.Classifier
	rand       func() float64
}

// Clock is the option that sets the clock; nil means clock.Real.
func Clock(c clock.Clock) Option { return Option{Kind: KindClock, clock: c} }

// Observer is the option that sets where events go; nil means nowhere.
func Observer(s observe.Sink) Option { return Option{Kind: KindSink, sink: s} }

// Classifier is the option that sets the classifier; nil leaves the default.
func Classifier(c *codes.Classifier) Option { return Option{Kind: KindClassifier, classifier: c} }

// Rand is the option that sets the source of uniform numbers in [0, 1); nil leaves the default.
func Rand(f func() float64) Option { return Option{Kind: KindRand, rand: f} }

// Common is what the common options set.
type Common struct {
	Clock      clock.Clock       // Never nil.
	Sink       observe.Sink      // nil: emit nothing.
	Classifier *codes.Classifier // Never nil.
	Rand       func() float64    // Never nil; safe for concurrent use.
}

// Defaults returns the common settings before any option: clock.Real, no observer,
// codes.Default() and math/rand/v2's Float64.
func Defaults() Common {
	return Common{Clock: clock.Real, Classifier: codes.Default(), Rand: rand.Float64}
}

// Apply sets what o sets, and reports whether o is a common option (a package's own kinds
// and the zero Option are not, and change nothing).
func (c *Common) Apply(o Option) bool {
	switch o.Kind {
	case KindClock:
		c.Clock = clock.OrReal(o.clock)
	case KindSink:
		c.Sink = o.sink
	case KindClassifier:
		if o.classifier != nil {
			c.Classifier = o.classifier
		}
	case KindRand:
		if o.rand != nil {
			c.Rand = o.rand
		}
	default:
		return false
	}
	return true
}

// Build returns Defaults changed by the common part of each of opts, in order; common reads
// it out of a package's option. A package with options of its own loops with Apply instead.
func Build[O any](opts []O, common func(O) Option) Common {
	c := Defaults()
	for _, o := range opts {
		c.Apply(common(o))
	}
	return c
}

type unaryPolicy interface {
	Unary() grpc.UnaryClientInterceptor
}

type streamPolicy interface {
	Stream() grpc.StreamClientInterceptor
}

// Unary is the body of every package-level UnaryClientInterceptor: p's Unary interceptor, or
// err (the error of the constructor that made p) and no interceptor.
func Unary[P unaryPolicy](p P, err error) (grpc.UnaryClientInterceptor, error) {
	if err != nil {
		return nil, err
	}
	return p.Unary(), nil
}

// Stream is Unary for streams.
func Stream[P streamPolicy](p P, err error) (grpc.StreamClientInterceptor, error) {
	if err != nil {
		return nil, err
	}
	return p.Stream(), nil
}

// TypedNil reports whether v, not nil itself, holds a nil pointer, func, map, channel, slice
// or interface: a variable of the caller's own type left unset, given where an interface is
// taken (an observer, a limiter), which would panic at its first use.
func TypedNil(v any) bool {
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface, reflect.UnsafePointer:
		return r.IsNil()
	}
	return false
}
