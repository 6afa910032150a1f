package config

import (
	"maps"
	"slices"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/section"
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

// Sections lists every section in the order a profile lists them: the built-ins (the
// constants above), then other registered sections (see package section) by rank, then
// classifier.
func Sections() []Section {
	var out []Section
	for _, sl := range slots() {
		out = append(out, Section(sl.key))
	}
	return append(out, SectionClassifier)
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
	if s == SectionClassifier {
		return maps.Equal(p.Classifier.Codes, q.Classifier.Codes) && maps.Equal(p.Classifier.Reasons, q.Classifier.Reasons)
	}
	sl, ok := slotOf(section.Key(s))
	if !ok {
		return false
	}
	a, b := sl.get(&p), sl.get(&q)
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sl.sec.Equal(a, b)
}

// Resolve returns the policy for a full method name ("/kyc.v1.OCRService/Extract"). A method
// without an entry of its own gets its service's policy; a service that is not listed gets
// the profile named "default" if there is one, else no policies (every section nil), with
// the budget either way. A profile name that does not exist counts as none (Validate reports
// it). Resolve allocates: call it once per method, not per call. A nil c is Builtin().
func (c *Config) Resolve(fullMethod string) Policy {
	svc, m := grpcmethod.Split(fullMethod)
	return c.orBuiltin().resolve(svc, m, true)
}

// ResolveService returns the policy for a service as a whole (its methods' overrides left
// out); see Resolve.
func (c *Config) ResolveService(service string) Policy {
	return c.orBuiltin().resolve(service, "", true)
}

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
	out := Profile{Classifier: codes.Overrides{Codes: maps.Clone(p.Classifier.Codes), Reasons: maps.Clone(p.Classifier.Reasons)}}
	for _, sl := range slots() {
		sl.set(&out, cloneValue(sl.get(&p)))
	}
	return out
}

// with returns p with o applied; p is not changed.
func (p Profile) with(o Overrides) Profile {
	out := Profile{Classifier: codes.Overrides{Codes: maps.Clone(p.Classifier.Codes), Reasons: maps.Clone(p.Classifier.Reasons)}}
	for _, sl := range slots() {
		sl.set(&out, sl.applyOverride(sl.get(&p), sl.getOverride(&o)))
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

// withDefaults returns p with every zero field that means a default replaced by that default:
// each section's Normalize, which its policy package owns. Empty classifier maps become nil.
func (p Profile) withDefaults() Profile {
	p = p.clone()
	for _, sl := range slots() {
		if v := sl.get(&p); v != nil {
			sl.set(&p, sl.sec.Normalize(v))
		}
	}
	if len(p.Classifier.Codes) == 0 {
		p.Classifier.Codes = nil
	}
	if len(p.Classifier.Reasons) == 0 {
		p.Classifier.Reasons = nil
	}
	return p
}

// ServiceNames returns the names of the configured services, sorted (a nil c's are
// Builtin()'s, as for every method of Config).
func (c *Config) ServiceNames() []string { return slices.Sorted(maps.Keys(c.orBuiltin().Services)) }

// MethodNames returns the short names of the methods with entries of their own under
// service, sorted.
func (c *Config) MethodNames(service string) []string {
	return slices.Sorted(maps.Keys(c.orBuiltin().Services[service].Methods))
}

// ProfileNames returns the names of the profiles, sorted.
func (c *Config) ProfileNames() []string { return slices.Sorted(maps.Keys(c.orBuiltin().Profiles)) }

// Policies returns the resolved policy of every configured service (Method empty), each
// followed by those of its methods that have entries of their own, sorted by name: what the
// suite builds interceptor chains from. Methods not listed use their service's policy;
// services not listed use Resolve's fallback.
func (c *Config) Policies() []Policy {
	c = c.orBuiltin()
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
