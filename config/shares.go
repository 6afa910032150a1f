package config

import "github.com/bulwarkrpc/bulwark/section"

// Shares reports whether a method (policy p) resolves section k as its service (policy sp)
// does, with the same classifier and budget where the section uses them, and shares the
// objects of the sections k's object captures (section.Spec.Captures): a suite then gives the
// method's chain the service's object for k (unless the section names its objects otherwise,
// section.Spec.Name: a breaker under scope method). A section that classifies for its service
// as a whole (section.Spec.ServiceClassifier) needs no same classifier. (A method without
// bulkhead, breaker or adaptive_throttle settings of its own shares the service's object
// whatever its classifier, and its chain judges its own outcomes by its own classifier where
// the object classifies: section.Spec.ForClassifier. A method with a retry section of its own
// has a hedging policy of its own, drawing on its own retry budget.) A suite's builds and
// Explain both decide by it.
func (p Policy) Shares(sp Policy, k section.Key) bool {
	if !p.SameSection(sp.Profile, Section(k)) {
		return false
	}
	sec, ok := section.Lookup(k)
	if !ok {
		return true
	}
	// An Always section that is off uses what its zero value does, as its object's
	// fingerprint says.
	var uses section.Uses
	if v := p.Value(k); v != nil || sec.Always() {
		uses = sec.Uses(v)
	}
	if (uses&section.UsesBudget != 0 && p.Budget != sp.Budget) ||
		(uses&section.UsesClassifier != 0 && !sec.ServiceClassifier() && !p.SameSection(sp.Profile, SectionClassifier)) {
		return false
	}
	for _, c := range sec.Captures() {
		// Ranked before k alone, so that the recursion ends. A stateless section's step is
		// built afresh for every chain: no two chains capture the same one.
		if d, ok := section.Lookup(c); ok && d.Rank() < sec.Rank() && (d.Stateless() || !p.Shares(sp, c)) {
			return false
		}
	}
	return true
}

// ServiceClassified reports whether the chain of a method (policy p, of a service of policy
// sp) takes its service's object of section k, one that classifies for its service as a whole
// (section.Spec.ServiceClassifier): p Shares it, and the section names it as it names the
// object of the service's own chain (a breaker under scope method does not). Such an object
// classifies with the service's classifier, whichever chain builds it, and is rebuilt when
// that one changes, not the method's; where the method's classifier differs, the section's
// ForClassifier, if any, gives the method's chain a step that judges its outcomes by the
// method's classifier.
func (p Policy) ServiceClassified(sp Policy, k section.Key) bool {
	sec, ok := section.Lookup(k)
	if !ok || !sec.ServiceClassifier() || !p.Shares(sp, k) {
		return false
	}
	v := p.Value(k)
	return sec.Name(v, p.Service, p.FullMethod(), true) == sec.Name(v, p.Service, "/"+p.Service+"/*", true)
}
