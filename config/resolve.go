package config

import (
	"maps"
	"slices"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	grpccodes "google.golang.org/grpc/codes"
)

// Policy is what one service, or one method, runs with: the effective profile (profile,
// then service overrides, then method overrides) with every zero field replaced by its
// policy's documented default, and the budget.
//
// A Policy shares nothing with its Config: its sections are fresh copies. Compare two with
// Equal, or one section at a time with Profile.SameSection, to decide on reload which policy
// state (a breaker's counts, a limiter's tokens) can be kept.
type Policy struct {
	// Service is the fully qualified service resolved for.
	Service string
	// Method is the short method name resolved for; empty for the service as a whole.
	Method string
	// ProfileName is the profile the policy starts from; empty when none applies.
	ProfileName string
	// Budget bounds every call: Config.Budget, or DefaultBudget when that is 0.
	Budget time.Duration
	// Profile holds the effective sections; a nil section is a policy that is off.
	Profile
}

// FullMethod returns "/Service/Method", or "/Service/" for a service-wide policy.
func (p Policy) FullMethod() string { return "/" + p.Service + "/" + p.Method }

// NewClassifier returns codes.Default() with the policy's classifier overrides.
func (p Policy) NewClassifier() (*codes.Classifier, error) {
	return codes.Default().With(p.Classifier)
}

// Equal reports whether p and q would behave the same: same budget and equal sections. The
// names (Service, Method, ProfileName) are not compared.
func (p Policy) Equal(q Policy) bool { return p.Budget == q.Budget && p.Profile.Equal(q.Profile) }

// Section names one section of a profile.
type Section string

// The sections, in the order a profile lists them.
const (
	SectionRetry            Section = "retry"
	SectionHedge            Section = "hedge"
	SectionBreaker          Section = "breaker"
	SectionAdaptiveThrottle Section = "adaptive_throttle"
	SectionBulkhead         Section = "bulkhead"
	SectionRateLimit        Section = "rate_limit"
	SectionDeadline         Section = "deadline"
	SectionFallback         Section = "fallback"
	SectionClassifier       Section = "classifier"
)

// Sections lists every section, in order.
func Sections() []Section {
	return []Section{SectionRetry, SectionHedge, SectionBreaker, SectionAdaptiveThrottle, SectionBulkhead, SectionRateLimit, SectionDeadline, SectionFallback, SectionClassifier}
}

// Equal reports whether every section of p equals q's.
func (p Profile) Equal(q Profile) bool { return len(p.Changed(q)) == 0 }

// Changed lists the sections in which p and q differ, in order.
func (p Profile) Changed(q Profile) []Section {
	var out []Section
	for _, s := range Sections() {
		if !p.SameSection(q, s) {
			out = append(out, s)
		}
	}
	return out
}

// SameSection reports whether section s is equal in p and q (both off, or both on with
// equal fields).
func (p Profile) SameSection(q Profile, s Section) bool {
	switch s {
	case SectionRetry:
		return samePtr(p.Retry, q.Retry, func(a, b retry.Config) bool { return a == b })
	case SectionHedge:
		return samePtr(p.Hedge, q.Hedge, eq)
	case SectionBreaker:
		return samePtr(p.Breaker, q.Breaker, func(a, b breaker.Config) bool { return a == b })
	case SectionAdaptiveThrottle:
		return samePtr(p.AdaptiveThrottle, q.AdaptiveThrottle, eq)
	case SectionBulkhead:
		return samePtr(p.Bulkhead, q.Bulkhead, eq)
	case SectionRateLimit:
		if (p.RateLimit == nil) != (q.RateLimit == nil) {
			return false
		}
		if p.RateLimit == nil {
			return true
		}
		a, b := *p.RateLimit, *q.RateLimit
		if !samePtr(a.Redis, b.Redis, eq) {
			return false
		}
		a.Redis, b.Redis = nil, nil
		return a == b
	case SectionDeadline:
		return samePtr(p.Deadline, q.Deadline, eq)
	case SectionFallback:
		return samePtr(p.Fallback, q.Fallback, func(a, b fallback.Config) bool {
			return a.ReplyJSON == b.ReplyJSON && slices.Equal(a.OnClasses, b.OnClasses) && slices.Equal(a.OnCodes, b.OnCodes)
		})
	case SectionClassifier:
		return maps.Equal(p.Classifier.Codes, q.Classifier.Codes) && maps.Equal(p.Classifier.Reasons, q.Classifier.Reasons)
	}
	return false
}

func eq[T comparable](a, b T) bool { return a == b }

func samePtr[T any](a, b *T, same func(a, b T) bool) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return same(*a, *b)
}

// Resolve returns the policy for a full method name ("/kyc.v1.OCRService/Extract"). A method
// without an entry of its own gets its service's policy; a service that is not listed gets
// the profile named "default" if there is one, else no policies (every section nil), with
// the budget either way. A profile name that does not exist counts as none (Validate reports
// it). Resolve allocates: call it once per method, not per call.
func (c *Config) Resolve(fullMethod string) Policy {
	svc, m := grpcmethod.Split(fullMethod)
	return c.resolve(svc, m, true)
}

// ResolveService returns the policy for a service as a whole (its methods' overrides left
// out); see Resolve.
func (c *Config) ResolveService(service string) Policy { return c.resolve(service, "", true) }

// resolve merges the layers; with fill it also fills the defaults.
func (c *Config) resolve(service, method string, fill bool) Policy {
	p := Policy{Service: service, Method: method, Budget: c.Budget}
	if p.Budget == 0 {
		p.Budget = DefaultBudget
	}
	svc, hasSvc := c.Services[service]
	var m Method
	hasMethod := false
	if hasSvc && method != "" {
		m, hasMethod = svc.Methods[method]
	}
	switch {
	case hasMethod && m.Profile != "":
		p.ProfileName = m.Profile
	case hasSvc && svc.Profile != "":
		p.ProfileName = svc.Profile
	default:
		p.ProfileName = DefaultProfile
	}
	base, ok := c.Profiles[p.ProfileName]
	if !ok {
		p.ProfileName = ""
	}
	p.Profile = base.clone()
	if hasSvc {
		p.Profile = p.Profile.with(svc.Overrides)
	}
	if hasMethod {
		p.Profile = p.Profile.with(m.Overrides)
	}
	if fill {
		p.Profile = p.Profile.withDefaults()
	}
	return p
}

// clone returns a deep copy of p.
func (p Profile) clone() Profile {
	return Profile{
		Retry: clone(p.Retry), Hedge: clone(p.Hedge), Breaker: clone(p.Breaker),
		AdaptiveThrottle: clone(p.AdaptiveThrottle), Bulkhead: clone(p.Bulkhead),
		RateLimit: clone(p.RateLimit), Deadline: clone(p.Deadline), Fallback: clone(p.Fallback),
		Classifier: codes.Overrides{Codes: maps.Clone(p.Classifier.Codes), Reasons: maps.Clone(p.Classifier.Reasons)},
	}
}

// with returns p with o applied; p is not changed.
func (p Profile) with(o Overrides) Profile {
	out := Profile{
		Retry: apply(p.Retry, o.Retry), Hedge: apply(p.Hedge, o.Hedge), Breaker: apply(p.Breaker, o.Breaker),
		AdaptiveThrottle: apply(p.AdaptiveThrottle, o.AdaptiveThrottle), Bulkhead: apply(p.Bulkhead, o.Bulkhead),
		RateLimit: apply(p.RateLimit, o.RateLimit), Deadline: apply(p.Deadline, o.Deadline), Fallback: apply(p.Fallback, o.Fallback),
		Classifier: codes.Overrides{Codes: maps.Clone(p.Classifier.Codes), Reasons: maps.Clone(p.Classifier.Reasons)},
	}
	for k, v := range o.Classifier.Codes {
		if out.Classifier.Codes == nil {
			out.Classifier.Codes = map[grpccodes.Code]codes.Class{}
		}
		out.Classifier.Codes[k] = v
	}
	for k, v := range o.Classifier.Reasons {
		if out.Classifier.Reasons == nil {
			out.Classifier.Reasons = map[string]codes.Class{}
		}
		out.Classifier.Reasons[k] = v
	}
	return out
}

// withDefaults returns p with every zero field that means a default replaced by that default,
// as each policy package documents it. Empty classifier maps become nil.
func (p Profile) withDefaults() Profile {
	p = p.clone()
	// Each policy package owns its defaults: the values its New runs with.
	if r := p.Retry; r != nil {
		*r = retry.Normalize(*r)
	}
	if b := p.Breaker; b != nil {
		*b = breaker.Normalize(*b)
	}
	if h := p.Hedge; h != nil {
		*h = hedge.Normalize(*h)
	}
	if t := p.AdaptiveThrottle; t != nil {
		*t = throttle.Normalize(*t)
	}
	if b := p.Bulkhead; b != nil {
		*b = bulkhead.Normalize(*b)
	}
	if r := p.RateLimit; r != nil {
		*r = ratelimit.Normalize(*r)
	}
	if f := p.Fallback; f != nil && len(f.OnClasses) == 0 && len(f.OnCodes) == 0 {
		f.OnClasses = []codes.Class{codes.Transient, codes.Throttled, codes.ServerFault, codes.Rejected}
	}
	if len(p.Classifier.Codes) == 0 {
		p.Classifier.Codes = nil
	}
	if len(p.Classifier.Reasons) == 0 {
		p.Classifier.Reasons = nil
	}
	return p
}

// ServiceNames returns the names of the configured services, sorted.
func (c *Config) ServiceNames() []string { return slices.Sorted(maps.Keys(c.Services)) }

// MethodNames returns the short names of the methods with entries of their own under
// service, sorted.
func (c *Config) MethodNames(service string) []string {
	return slices.Sorted(maps.Keys(c.Services[service].Methods))
}

// ProfileNames returns the names of the profiles, sorted.
func (c *Config) ProfileNames() []string { return slices.Sorted(maps.Keys(c.Profiles)) }

// Policies returns the resolved policy of every configured service (Method empty), each
// followed by those of its methods that have entries of their own, sorted by name: what the
// suite builds interceptor chains from. Methods not listed use their service's policy;
// services not listed use Resolve's fallback.
func (c *Config) Policies() []Policy {
	var out []Policy
	for _, s := range c.ServiceNames() {
		out = append(out, c.resolve(s, "", true))
		for _, m := range c.MethodNames(s) {
			out = append(out, c.resolve(s, m, true))
		}
	}
	return out
}

func keyOf(name string) string { return fielderr.Key(name) }

// targetPath is the yaml path of a service or one of its methods.
func targetPath(service, method string) string {
	p := "services." + fielderr.Key(service)
	if method != "" {
		p += ".methods." + fielderr.Key(method)
	}
	return p
}
