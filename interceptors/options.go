package interceptors

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/optkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Option configures a Suite.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	clock clock.Clock
	sink  observe.Sink
	rand  func() float64
	// values are the suite's values for particular policies, by type (section.Env.Values).
	values map[reflect.Type]any
	// unlistedLimit is WithUnlistedLimit's bound; unlistedSet says it was given.
	unlistedLimit int
	unlistedSet   bool
	errs          []error // options given invalid values; New refuses them
	// byWithFallback are the targets of the fallback.Replies value that WithFallback gave (a
	// later WithValue(fallback.Replies) replaces them all), for New's errors to name the option.
	byWithFallback map[string]bool
}

// fallbackOption returns the option that gave the reply for target: WithFallback or
// WithValue(fallback.Replies).
func (o *options) fallbackOption(target string) string {
	if o.byWithFallback[target] {
		return "WithFallback"
	}
	return "WithValue(fallback.Replies)"
}

// WithValue gives the sections' Build functions a value of type T (section.Value[T] reads
// it): what a policy needs from the program beyond its section, such as the objects of a
// section registered outside bulwark. A later value of the same type replaces an earlier one.
func WithValue[T any](v T) Option {
	return optionFunc(func(o *options) {
		if _, ok := any(v).(fallback.Replies); ok {
			o.byWithFallback = nil // its replies replace WithFallback's
		}
		setValue(o, v)
	})
}

func setValue[T any](o *options, v T) {
	if o.values == nil {
		o.values = map[reflect.Type]any{}
	}
	o.values[reflect.TypeFor[T]()] = v
}

func value[T any](o *options) (T, bool) {
	v, ok := o.values[reflect.TypeFor[T]()].(T)
	return v, ok
}

// WithClock sets the clock of every policy (backoff, recovery timeouts, refill, deadlines),
// but for the shared token buckets of a registry given by WithLimiterRegistry, which refill by
// that registry's clock, and for the breakers of a registry given by WithBreakerRegistry that
// breaker.NewRegistry gave a clock, which run on that clock.
func WithClock(c clock.Clock) Option { return optionFunc(func(o *options) { o.clock = c }) }

// WithObserver sends the events of every policy, and the suite's CallFinished, to sink. Given
// more than once, it adds sink to those given before (each gets every event, in the order
// given), as for metrics and logs side by side; it does not replace them. A nil sink is none;
// a sink holding a nil pointer, func or map (a typed nil: a nil *promobs.Metrics
// in the interface), which would panic at the first event, is an invalid option.
func WithObserver(sink observe.Sink) Option {
	return optionFunc(func(o *options) {
		if optkit.TypedNil(sink) {
			o.errs = append(o.errs, &fielderr.Error{Path: "WithObserver", Value: fmt.Sprintf("a nil %T", sink), Rule: "is a typed nil, which panics at the first event; pass nil for no observer"})
			return
		}
		o.sink = observe.Multi(o.sink, sink)
	})
}

// WithRand sets the random source of the retry jitter and of the adaptive throttle's draws; it
// must be safe for concurrent use.
func WithRand(f func() float64) Option { return optionFunc(func(o *options) { o.rand = f }) }

// WithFallback gives the reply that the fallback section of target's profile serves. target is
// a full method ("/kyc.v1.OCRService/Extract"), every method of a service
// ("/kyc.v1.OCRService/*") or a service ("kyc.v1.OCRService"); a method's own reply comes
// first, then its service's "/<service>/*", then the service's. Without one, a fallback section
// needs a reply_json. New refuses a reply that answers nothing (nil, Func(nil), Message(nil)) or
// that Message or Func did not make (a type embedding a Reply:
// see fallback.CheckReply), a target of another form (a full method without its leading
// slash), a method or service the registered descriptors tell does not exist (a method its
// service's descriptor does not declare; a method named as a service), and a Message that is
// not of a registered method's response type. A Message for a service, or for
// "/<service>/*", is checked, by New and by each Reload, against every method its registered
// descriptor declares that it serves under the configuration (those whose policy has a
// fallback section, without a reply of their own, nor, for a service, a "/<service>/*" one):
// a service whose methods answer different types cannot take one Message for them all (a
// method without a fallback section is not served, whatever it answers).
func WithFallback(target string, reply fallback.Reply) Option {
	return optionFunc(func(o *options) {
		if err := checkFallback("WithFallback", target, reply); err != nil {
			o.errs = append(o.errs, err)
			return
		}
		// A copy: a map given by WithValue is the caller's, who may give it to other suites.
		rs, _ := value[fallback.Replies](o)
		rs = maps.Clone(rs)
		if rs == nil {
			rs = fallback.Replies{}
		}
		rs[target] = reply
		setValue(o, rs)
		if o.byWithFallback == nil {
			o.byWithFallback = map[string]bool{}
		}
		o.byWithFallback[target] = true
	})
}

// WithBreakerRegistry makes the suite take its breakers from r, so that several suites calling
// one service share one breaker. By default each suite has its own registry: every connection
// the suite is installed on shares its breakers, but another suite's breakers are apart. A nil
// r is the default. A reload (or Close) that stops using a breaker r still holds, or that
// another suite sharing r still holds, does not report it retired (observe.Retired): another
// suite may still use it (r retires it, once no suite holds it, when it replaces or forgets
// it; else the last suite that holds it does). Whichever retires it, a breaker's Retired goes
// to its own observer, once (breaker.Breaker.Retire): the one of the suite whose build made
// it, which got its BreakerPublished and its changes, not that of a suite that took it from
// r. A name stands for one breaker
// (see breaker.Registry): a New or Reload whose settings for a breaker another suite sharing r
// holds differ from that breaker's is refused with an error wrapping breaker.ErrSharedConflict
// that names the breaker and the setting, and changes nothing; once no other suite uses the
// name (their reloads dropped it, or they closed), the suite's reload replaces the breaker.
// The breakers of chains built on a first call (see New) are taken at that call: a Reload
// refuses other settings for such a breaker the suite holds (its name was called) that
// another suite holds too; one the suite does not hold (never called, or its build failed)
// is judged at its next call, whose chain then fails to build with that error
// (FailedPrecondition) until a reload. Suites sharing r check and publish one at a time: a
// suite holds r's build lock (breaker.User.LockBuilds) from a Reload's checks against r to
// its publish, and around the build of a chain on a first call, so that another suite's reload
// or first call comes before or after it, never in between; a call whose chain is built takes
// no such lock. Code of the program that runs in a build (a fleet-wide limiter's factory) must
// not reload, or make a first call through, another suite sharing r: it would wait for the
// lock its own suite holds. The suite's sink is called with the lock let go. The breakers r
// makes run on r's clock when breaker.NewRegistry gave it one (breaker.WithClock), whatever
// the suite's (WithClock): a test can so put the breakers alone on a fake clock.
func WithBreakerRegistry(r *breaker.Registry) Option {
	return optionFunc(func(o *options) { setValue(o, r) })
}

// WithLimiterRegistry makes the suite take its shared token buckets (rate_limit.shared) from r.
// By default each suite has its own registry, whose buckets refill by the suite's clock
// (WithClock); a nil r is the default. r's buckets refill by r's clock (ratelimit.NewRegistry's
// ratelimit.WithClock), whatever the suite's: give r the suite's clock. The suite is a user of r
// of its own (ratelimit.Registry.User): suites that ask for a shared name with the same rate and
// burst share one bucket, and a suite's reload that changes them is a conflict for none of the
// others, which keep their bucket until they reload to the new settings too (the settings of
// one name are refused as configured twice only within one suite's configuration).
func WithLimiterRegistry(r *ratelimit.Registry) Option {
	return optionFunc(func(o *options) { setValue(o, r) })
}

// WithRemoteLimiter gives the suite the factory of fleet-wide rate limiters, which a
// rate_limit section with a redis sub-section needs: without one, building such a section is
// an error. Package redislimit provides it, so that this package does not depend on a Redis
// client:
//
//	interceptors.WithRemoteLimiter(redislimit.Factory(nil))    // each limiter dials rate_limit.redis.addr
//	interceptors.WithRemoteLimiter(redislimit.Factory(client)) // one client of the program's, left open
func WithRemoteLimiter(f ratelimit.RemoteFactory) Option {
	return optionFunc(func(o *options) { setValue(o, f) })
}

// DefaultUnlistedLimit is the bound on unlisted names without WithUnlistedLimit. It is far
// above the methods a program calls through a proxy (an API of a few services has tens to a
// few hundred methods), about promobs.MaxMethods (past which the metrics count methods under
// one label anyway), and small enough that what the names keep stays a few MB: about 3.5 KB a
// name for a chain of every policy but hedging and fallback with a method-scoped breaker, 6 KB
// a service outside the configuration (its breaker, bulkhead, limiter and retry budget too).
const DefaultUnlistedLimit = 1024

// WithUnlistedLimit sets how many unlisted method names and services get a chain and policy
// objects of their own: DefaultUnlistedLimit without it; 0 gives none; New refuses a negative n.
//
// A method name is unlisted when the configuration does not name it, no registered descriptor
// declares it and no WithFallback reply is given for it (a generic proxy forwards any name;
// names can come from input). A service is unlisted when the configuration does not name it,
// its descriptor is not registered and WithFallback names neither it nor its methods. The
// bound counts:
//   - each unlisted name of a service whose policy has a part per method (a breaker with
//     scope: method; a fallback), which has a chain and objects of its own (a method-scoped
//     breaker). The unlisted names of other services share their service's chain and cost
//     no chain or object of their own (the retry and hedging policies keep, within bounds
//     of their own, each name of up to 1024 bytes and a few hundred bytes for it, and learn
//     hedging delays for the first names only; a longer name is kept by none of them);
//   - each unlisted service, which has a chain and objects of its own.
//
// A name or service longer than 1024 bytes (a :path may be megabytes long) is never admitted:
// it is served as one past the bound, and keeps nothing.
//
// Past the bound, calls stay protected, by coarser objects: an unlisted name of a listed
// service goes through its service's overflow chain, built for "/<service>/*" (one
// method-scoped breaker for all such names), and a name of an unlisted service through the
// suite's overflow chain, built for the service "*" ("/*/*") with the policy of every service
// outside the configuration and no WithFallback reply. Every event of a call through it names
// the service "*" and, where it names a method, "/*/*", whatever the call named: its
// CallFinished, its attempts, retries, hedges and deadline, and its objects' (breaker,
// bulkhead, limiter, throttle) refusals. So the labels of metrics made from the events
// (promobs) are bounded by n whatever names calls bring, and a ratio of the service "*" (its
// retries over its calls) compares its own events. A sink that is an observe.CalledSink (zapobs
// is) is told the method the call named too, for a log line; a call's own sink
// (observe.WithCallSink), which sees that call alone, is told the call's service and method
// in every event the suite sends it instead, but for the Rejected of a hedge a policy below
// the hedging policy refused, which that policy sends the call's sink alone under the refusing
// object's service, "*", as the refusal says (a tracer finds the refusing breaker's state by
// it; see package hedge). (A call may name the service "*" itself: it has chains of its own,
// as another service does, whose objects named after it are those of the overflow chain,
// whose refusals name "/*/*" too.) A
// fallback's reply_json cannot be decoded for a name no descriptor declares: such chains fail
// to build, within the bound or past it, and their calls fail with FailedPrecondition.
//
// The names and services admitted are the suite's for its life: after a reload their chains
// are built again on their next call, with their objects' state where the settings did not
// change, and no others are admitted. (A reload keeps those objects, so a bound counted afresh
// on each reload would let another n names' objects in each time.)
//
// A service and a method name are admitted apart: a service admitted while its methods shared
// one chain does not admit its method names when a later configuration gives it a part per
// method (they count then; past the bound they go through "/<service>/*" when that
// configuration names the service, else, the service still unlisted, through "/*/*"), nor does
// a method name admitted under such a policy admit its service.
func WithUnlistedLimit(n int) Option {
	return optionFunc(func(o *options) {
		if n < 0 {
			o.errs = append(o.errs, fielderr.New("WithUnlistedLimit", n, "is negative"))
			return
		}
		o.unlistedLimit, o.unlistedSet = n, true
	})
}

// checkFallback checks a fallback reply that option gives for target: target's form
// (checkFallbackTarget) and a reply that answers something (fallback.CheckReply). Checked when
// the suite is made: else a chain built at a call (an unlisted service's) would fail every call.
func checkFallback(option, target string, reply fallback.Reply) error {
	if err := checkFallbackTarget(option, target); err != nil {
		return err
	}
	if err := fallback.CheckReply(reply); err != nil {
		return fielderr.New(option, target, "has no usable reply: "+err.Error())
	}
	// A Message not of a registered method's response type would never be served: the
	// chain of every call of the method would fail to build. fallback.New checks it (and
	// takes any Func, and a Message for a method missing from the registry).
	if svc, m := grpcmethod.Split(target); strings.HasPrefix(target, "/") && m != "*" && declares(descriptorOf(svc), target) {
		if _, err := fallback.New(target, fallback.Config{}, reply); err != nil {
			return fielderr.New(option, target, "has a reply that does not fit: "+err.Error())
		}
	}
	return nil
}

// checkFallbackTarget returns why a fallback reply's target, given by option, is refused,
// naming it as written, or nil. A target the suite would never look up (see fallback's section build) gives no reply:
// a call of the method it was meant for fails to build its fallback without a reply_json, and
// serves the reply_json with one, the reply given unused.
func checkFallbackTarget(option, target string) error {
	const (
		wantMethod = "/package.Service/Method, or /package.Service/* for every method of the service"
		rule       = "is neither a full method (" + wantMethod + ") nor a service (package.Service)"
	)
	rest, isMethod := strings.CutPrefix(target, "/")
	if !isMethod {
		if target == "" || strings.Contains(target, "/") {
			return fielderr.New(option, target, rule)
		}
		// A method named as a service ("pkg.Service.Method"): no call names that service.
		if owner, method, ok := methodAsService(target); ok {
			return fielderr.New(option, target, "is a method of "+owner+", not a service: want /"+owner+"/"+method)
		}
		return nil
	}
	svc, m, ok := strings.Cut(rest, "/")
	if !ok || svc == "" || m == "" || strings.Contains(m, "/") {
		return fielderr.New(option, target, "is not a full method (want "+wantMethod+")")
	}
	if owner, method, ok := methodAsService(svc); ok {
		rule := "names a method of " + owner + " as its service"
		if m == "*" {
			rule += ": want /" + owner + "/" + method
		}
		return fielderr.New(option, target, rule)
	}
	if m == "*" {
		return nil
	}
	if sd := grpcmethod.ServiceDescriptor(svc); sd != nil && sd.Methods().ByName(protoreflect.Name(m)) == nil {
		ms := sd.Methods()
		names := make([]string, ms.Len())
		for i := range names {
			names[i] = string(ms.Get(i).Name())
		}
		return fielderr.New(option, target, "names no method of "+svc+", whose registered descriptor declares "+strings.Join(names, ", "))
	}
	return nil
}

// methodAsService reports whether svc, a service name of a WithFallback target, is a method of
// a registered service ("pkg.Service.Method") instead: no call names such a service. It
// returns the service and the method.
func methodAsService(svc string) (owner, method string, ok bool) {
	if grpcmethod.ServiceDescriptor(svc) != nil {
		return "", "", false
	}
	name := protoreflect.FullName(svc)
	if sd := grpcmethod.ServiceDescriptor(string(name.Parent())); sd != nil && sd.Methods().ByName(name.Name()) != nil {
		return string(name.Parent()), string(name.Name()), true
	}
	return "", "", false
}

// checkServiceMessages checks the reply rs gives for each whole service (a service, or
// "/<service>/*") against every method the service's registered descriptor declares that the
// reply serves under cfg: those whose policy has a fallback section and that rs gives no reply
// of their own (nor, for a service, a "/<service>/*" one). A method without a fallback section
// never serves the reply, whatever its type. A Func serves any; a Message only methods of its
// type, so one for methods that answer different types is refused, naming them and their
// types. option names the option that gave a target. (checkFallback checks the replies one by
// one: it does not know which methods another reply serves.)
func checkServiceMessages(rs fallback.Replies, option func(target string) string, cfg *config.Config) error {
	var errs []error
	for _, t := range slices.Sorted(maps.Keys(rs)) {
		svc, anyMethod := t, false
		if strings.HasPrefix(t, "/") {
			s, m := grpcmethod.Split(t)
			if m != "*" {
				continue
			}
			svc, anyMethod = s, true
		}
		sd := descriptorOf(svc)
		if sd == nil {
			continue
		}
		var (
			served, misfits []string // the methods served, and those the reply does not fit
			firstErr        error
			types           = map[protoreflect.FullName]bool{}
		)
		ms := sd.Methods()
		for i := range ms.Len() {
			md := ms.Get(i)
			full := "/" + svc + "/" + string(md.Name())
			if _, own := rs[full]; own {
				continue
			}
			if _, shared := rs["/"+svc+"/*"]; shared && !anyMethod {
				continue
			}
			if cfg.Resolve(full).Fallback == nil {
				continue
			}
			served = append(served, string(md.Name())+" answers "+string(md.Output().FullName()))
			types[md.Output().FullName()] = true
			if _, err := fallback.New(full, fallback.Config{}, rs[t]); err != nil {
				misfits = append(misfits, full)
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		switch {
		case len(misfits) == 0:
		case len(types) > 1:
			errs = append(errs, fielderr.New(option(t), t, "has one Message for methods of "+svc+" that answer different types ("+
				strings.Join(served, ", ")+"), and one Message cannot fit them all: give "+strings.Join(misfits, ", ")+" a reply of its own: "+firstErr.Error()))
		default:
			errs = append(errs, fielderr.New(option(t), t, "has a reply that does not fit the methods of "+svc+": "+firstErr.Error()))
		}
	}
	return errors.Join(errs...)
}
