// Package section is the registry of policy sections: each policy package describes its
// configuration section once (its yaml key, its place in a chain, its defaults, validation,
// explicit-zero rules, equality and explain text) and registers it, and package config decodes,
// merges, overrides, validates and explains every registered section by looping over them;
// the suite (package interceptors) builds a chain's steps with each section's Build.
//
// # Registering a section
//
// A policy package registers from an init function in its section.go:
//
//	func init() {
//		section.Register(section.Spec[Config]{
//			Key:       "rate_limit",
//			Rank:      section.RankRateLimit,
//			Normalize: Normalize,
//			Build:     build,
//		})
//	}
//
//	// build makes the section's step of one chain (here a local bucket of the chain's own; the
//	// real one also takes shared buckets and fleet-wide limiters from env.Values).
//	func build(env *section.Env, c Config) (section.Built, error) {
//		return section.Step(New(env.Service, nil, c, WithClock(env.Clock), WithObserver(env.Sink)))
//	}
//
// A Spec states only what is particular to its section. Where it leaves Validate, Explain or
// Equal nil, Register takes Config's own method of that name, if Config (or *Config) has one
// with the signature the hook wants (Validate() error, Explain() string, Equal(Config) bool):
// the registration above validates with Config.Validate and explains with Config.Explain.
// Set the field to override a method, or to give a section whose Config has none the hook.
//
// The rules that an explicit zero breaks, for fields where 0 means the default, stand beside
// the fields in Config, as zero tags; Register collects them (Spec.Zero):
//
//	// Burst is the bucket's size. 0 means max(1, ceil(Rate)).
//	Burst int `yaml:"burst" zero:"is below 1"`
//
// A section exists in a program only when its package is linked, as a database/sql driver
// does. The built-in policies are linked by package config.
//
// # Order
//
// Rank is the single place the order of a chain lives: outermost first, the built-ins 100
// apart (fallback, deadline, retry, hedge, breaker, adaptive_throttle, rate_limit,
// bulkhead), so a new policy picks a gap. The order in which a configuration file and
// -explain list sections is package config's: its Profile fields first, then other
// registered sections by rank, then classifier.
//
// # Building steps
//
// Build gets an Env: the chain's service and method, the object's name (Spec.Name), the call
// budget, the suite's clock, sink, random source and classifier, the suite's values for
// particular policies (Value), the steps already built for the chain (Env.Earlier),
// OnClose and the reload's Stage. A suite keeps what Build returns across reloads while its
// fingerprint holds: the section's value (Equal), what it Uses (the classifier, the budget)
// and its Deps by identity. An object that captures the objects of earlier sections
// (Spec.Captures) is its service's only where they are too. Stateless sections are built
// afresh for every chain, before any kept object is touched.
//
// A reload is all or nothing: when one chain of it fails to build, what its other chains built
// is dropped (their OnClose funcs run) and the suite keeps the objects it had. A Build whose
// object lives in a store outside the suite (the breaker registry) therefore leaves the store
// alone and registers the change with Env.Stage.OnCommit, which runs once the whole reload is
// built.
package section
