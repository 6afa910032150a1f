package config

import (
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/section"
)

// DefaultBudget is the budget when Config.Budget is 0: the KYC SLO for a whole verification.
const DefaultBudget = 8 * time.Second

// DefaultProfile is the profile a service gets when it names none, if a profile of that name
// exists.
const DefaultProfile = "default"

// Config is a whole configuration: the budget, named profiles and services bound to them.
// The zero value is valid: an 8 s budget and no policies. A nil *Config is Builtin() to every
// method (UnmarshalYAML, which has nowhere to decode into, returns an error). A Config is plain
// data; it is safe for concurrent reads, and must not be changed while another goroutine
// resolves from it.
type Config struct {
	// Budget bounds every call at run time, attempts and backoff sleeps together. 0 means
	// DefaultBudget (8s).
	Budget time.Duration `yaml:"budget" json:"budget"`
	// Profiles are the named sets of policies services are bound to.
	Profiles map[string]Profile `yaml:"profiles" json:"profiles"`
	// Services maps a fully qualified gRPC service name ("kyc.v1.OCRService") to its binding.
	Services map[string]Service `yaml:"services" json:"services"`

	// srcs are the sources a parsed Config was read from (the file's, then builtin.yaml's),
	// to locate what a check after parsing (CheckNames) finds; nil for a Config built in Go.
	// They are never changed, so copies share them.
	srcs []*source
}

// Profile is a set of policies. A nil section means that policy is off (YAML: the key is
// absent, null, off or false); a non-nil zero section is the policy with its package's defaults.
type Profile struct {
	Retry *retry.Config `yaml:"retry" json:"retry"`
	// Hedge sends extra attempts of idempotent calls that are slow to answer (see
	// interceptors/hedge).
	Hedge   *hedge.Config   `yaml:"hedge" json:"hedge"`
	Breaker *breaker.Config `yaml:"breaker" json:"breaker"`
	// AdaptiveThrottle rejects calls locally as the service's accept rate falls (see
	// interceptors/throttle).
	AdaptiveThrottle *throttle.Config  `yaml:"adaptive_throttle" json:"adaptive_throttle"`
	Bulkhead         *bulkhead.Config  `yaml:"bulkhead" json:"bulkhead"`
	RateLimit        *ratelimit.Config `yaml:"rate_limit" json:"rate_limit"`
	Deadline         *deadline.Config  `yaml:"deadline" json:"deadline"`
	Fallback         *fallback.Config  `yaml:"fallback" json:"fallback"`
	// Classifier changes the class of some codes and ErrorInfo reasons for calls under this
	// profile (see codes.Classifier.With). The zero value changes nothing.
	Classifier codes.Overrides `yaml:"classifier" json:"classifier"`
	// Sections holds the registered sections (see package section) that have no field of
	// their own above, by key; a value is a *C of the section's Config type C, and an absent
	// key is a policy that is off. It is decoded from the same level of YAML as the fields.
	Sections map[section.Key]any `yaml:"-" json:"-"`
}

// Service binds a gRPC service to a profile, with overrides.
type Service struct {
	// Profile names the profile. Empty means the profile named "default" if there is one,
	// else none (only the overrides apply). In YAML, leave the key out for that: an explicit
	// profile: "" is an error.
	Profile string `yaml:"profile" json:"profile"`
	// Overrides change the profile for every method of the service.
	Overrides `yaml:",inline" json:",inline"`
	// Methods maps a short method name ("Extract") to its own profile and overrides.
	Methods map[string]Method `yaml:"methods" json:"methods"`
}

// Method is one method's own profile and overrides.
type Method struct {
	// Profile, when set, replaces the service's profile for this method; the service's
	// overrides still apply on top of it. In YAML, an explicit profile: "" is an error.
	Profile string `yaml:"profile" json:"profile"`
	// Overrides change the method's policies after the service's overrides.
	Overrides `yaml:",inline" json:",inline"`
}

// Overrides are per-section changes to a profile. A nil section leaves the profile's
// section as it is.
type Overrides struct {
	Retry            *Override[retry.Config]     `yaml:"retry" json:"retry"`
	Hedge            *Override[hedge.Config]     `yaml:"hedge" json:"hedge"`
	Breaker          *Override[breaker.Config]   `yaml:"breaker" json:"breaker"`
	AdaptiveThrottle *Override[throttle.Config]  `yaml:"adaptive_throttle" json:"adaptive_throttle"`
	Bulkhead         *Override[bulkhead.Config]  `yaml:"bulkhead" json:"bulkhead"`
	RateLimit        *Override[ratelimit.Config] `yaml:"rate_limit" json:"rate_limit"`
	Deadline         *Override[deadline.Config]  `yaml:"deadline" json:"deadline"`
	Fallback         *Override[fallback.Config]  `yaml:"fallback" json:"fallback"`
	// Classifier entries are added to the profile's, replacing those for the same code or
	// reason.
	Classifier codes.Overrides `yaml:"classifier" json:"classifier"`
	// Sections holds the overrides of registered sections without a field above, by key;
	// an Override's Value is then a *C of the section's Config type C.
	Sections map[section.Key]*Override[any] `yaml:"-" json:"-"`
}

// Override changes some fields of one section of a profile.
//
// When Off is set the policy is off. Otherwise the policy is on (starting from its defaults
// when the profile had it off) and the fields named in Fields are taken from Value; the other
// fields keep the profile's values. Fields holds yaml key paths relative to the section, such
// as "max_attempts" or "throttle.token_ratio"; a path may name a nested section as a whole
// ("redis"). Build one with [Set] or [Off].
type Override[T any] struct {
	Off    bool     `json:"off"`
	Value  T        `json:"value"`
	Fields []string `json:"fields"`
}

// Set returns an override that takes the named fields (yaml key paths) from v.
//
//	config.Set(retry.Config{MaxAttempts: 2}, "max_attempts")
func Set[T any](v T, fields ...string) *Override[T] {
	return &Override[T]{Value: v, Fields: fields}
}

// Off returns an override that turns the policy off.
func Off[T any]() *Override[T] { return &Override[T]{Off: true} }
