// Package config turns YAML into validated resilience policies: named profiles (ml, fast, ocr),
// gRPC services bound to profiles with field-by-field overrides per service and per method,
// and the global time budget (the 8 s KYC SLO).
//
// # Schema
//
//	budget: 8s                        # bounds every call; absent means 8s (a written 0 is an error)
//	profiles:
//	  <name>:                         # letters, digits, '_' and '-'
//	    retry:       {...}            # retry.Config keys; "off", null or absence: no retries
//	    hedge:       {...}            # hedge.Config keys: extra attempts of slow idempotent calls
//	    breaker:     {...}            # breaker.Config keys
//	    adaptive_throttle: {...}      # throttle.Config keys: reject locally as accepts fall
//	    bulkhead:    {...}            # bulkhead.Config keys; adaptive: {algorithm: gradient}
//	    rate_limit:  {...}            # ratelimit.Config keys, with an optional redis: {...}
//	    deadline:    {...}            # deadline.Config keys
//	    fallback:    {...}            # fallback.Config keys
//	    classifier:                   # codes.Overrides
//	      codes:   {UNAVAILABLE: transient}
//	      reasons: {DOCUMENT_UNREADABLE: business}
//	services:
//	  <fully.qualified.Service>:
//	    profile: <name>               # absent: the built-in binding's, else "default"
//	    retry: {max_attempts: 2}      # overrides: only the keys written change
//	    methods:
//	      <Method>:                   # short method name
//	        profile: <name>           # replaces the service's profile for this method
//	        deadline: {max: 2s}       # overrides on top of the service's
//
// Durations are written with a unit ("500ms", "2s"); a bare number other than 0 is an error.
// Unknown keys are errors at every level. YAML anchors, aliases and merge keys are not accepted.
//
// The budget bounds every call through the suite, a stream's whole life included, whatever
// its service: one the configuration does not name, or whose deadline section is off, is
// bounded too, and a caller's own later deadline is cut to it. A long-lived stream (a watch,
// a subscription) ends with DeadlineExceeded when the budget runs out: raise the budget, or
// open such streams on a connection without the suite.
//
// # Sections
//
// In a profile, a nil section (YAML absent, null, off or false; Off, OFF, False and FALSE too)
// means the policy is off. In a service or method, a section is an [Override]: off (or null,
// or false) turns the policy off there, while leaving the key out keeps the profile's; a
// mapping changes only the keys it writes and turns the policy on (with defaults for the rest)
// when the profile had it off. Classifier overrides are merged entry by entry. A nested
// section (bulkhead.adaptive, retry.throttle, rate_limit.redis) is turned off the same way
// (off, null or false) in a profile, a service or a method, the rest of its section kept.
//
// The sections are those registered with package section: each policy package describes its
// own (key, defaults, validation, the fields where a written 0 is an error, equality, explain
// text) and this package loops over them. The eight built-ins have fields of their own in
// [Profile] and [Overrides]; a section registered by another package (a policy of one's own)
// is decoded from the same YAML level into Profile.Sections and Overrides.Sections.
//
// # Precedence
//
// Lowest to highest:
//
//  1. the profile: the method's own profile if it names one, else the service's, else the
//     profile named "default" if there is one, else no policies at all;
//  2. the service's overrides (they hold for every method of the service, whichever profile
//     the method uses);
//  3. the method's overrides.
//
// Then every zero field is replaced by the default its policy package documents (the
// section's Normalize, owned by that package), so the
// suite reads plain values (see [Config.Resolve]).
//
// Files: [Load] and [Parse] start from [Builtin] (the profiles ml, fast and ocr and the
// bindings of the three KYC services, from the embedded builtin.yaml). A non-zero budget in
// the file replaces the built-in one. A profile in the file replaces the built-in profile of
// the same name as a whole. A service in the file replaces the built-in binding of the same
// name, except that when it names no profile it keeps the built-in's profile.
//
// # Errors and warnings
//
// Every problem found is reported, in file order, as an [*Error] that names the file, the
// line, the field path, the value and the rule:
//
//	ocr.yaml:12: services."kyc.v1.OCRService".retry.max_attempts: 0 is below 1
//
// In YAML, writing 0 (or "") in a field where the zero value means "use the default" is an
// error, since it would silently mean something else than it says; leave the field out (in a
// service or a method, that keeps the value it inherits, which the message quotes). So is
// an empty profile name (profile: "") in a service or a method.
// Where 0 means "none" or "off" it is accepted, so that an override can switch a thing off.
//
//	| written 0 is an error                                   | written 0 is accepted          |
//	|---------------------------------------------------------|--------------------------------|
//	| budget                                                  | retry.per_attempt_timeout      |
//	| retry.max_attempts, multiplier, initial_backoff,        | retry.budget, jitter_amount,   |
//	|   max_backoff, jitter (""), replay_buffer_bytes,        |   throttle.max_tokens,         |
//	|   throttle.token_ratio, min_per_second, window          |   throttle.ratio               |
//	| breaker.window_size, window_duration, minimum_calls,    | breaker.failure_rate_threshold,|
//	|   recovery_timeout, initial_recovery_timeout,           |   failure_rate_confidence,     |
//	|   recovery_multiplier, half_open_max_calls,             |   slow_call_duration           |
//	|   half_open_max_wait, success_threshold,                | breaker.consecutive_failures   |
//	|   slow_call_rate_threshold, scope (""),                 |   (with a failure rate)        |
//	|   window_type ("")                                      |                                |
//	| bulkhead.max_concurrent                                 | bulkhead.max_wait              |
//	|                                                         | rate_limit.max_wait            |
//	| rate_limit.burst, redis.timeout, redis.key_prefix ("")  | deadline.default, deadline.max |
//	| hedge.max_attempts, delay, median_multiple, min_delay,  | hedge.max_delay,               |
//	|   window, min_samples, replay_buffer_bytes              | hedge.percentile, with a delay |
//	| adaptive_throttle.k, window, max_reject_probability     | adaptive_throttle.min_requests |
//	| bulkhead.adaptive.min_limit, initial_limit, smoothing,  | bulkhead.adaptive.algorithm    |
//	|   tolerance, long_window, backoff_ratio                 |   (""), latency_threshold      |
//
// A field set where the rest of its section never reads it is an error too, as a
// retry.jitter_amount without jitter: additive is: retry.throttle.min_per_second or window
// without throttle.ratio, throttle.token_ratio without throttle.max_tokens;
// breaker.window_duration with a count window, window_size with a time window, and
// window_type, window_size, window_duration or minimum_calls with neither
// failure_rate_threshold nor slow_call_duration; bulkhead.adaptive's fields without
// adaptive.algorithm, its smoothing, tolerance or long_window beside aimd, its
// latency_threshold beside gradient. An override that turns such a setting off
// (throttle.ratio: 0 alone, failure_rate_threshold: 0, adaptive: {algorithm: ""}) or changes
// it (window_type: time, adaptive: {algorithm: aimd}) keeps the fields it does not write,
// whose 0 it could not write: those are accepted, with a [Warning] at the service or method.
// So is a field a service's override writes for its profile that the profile a method names
// for itself leaves unused (a ratio budget's window, the method's profile having no ratio
// budget): a [Warning] at the method.
//
// Cross-references are checked too: a service or method bound to a profile that does not
// exist (the message lists those that do), a service name that is not fully qualified, a
// method name that is not an identifier, and an override that makes its section invalid
// (reported at the override: max_backoff below the profile's initial_backoff; a service's
// override that does not fit the profile a method names for itself, at the method).
//
// Whether a service or method exists is not checked: Load and Parse know no program's
// services, so a misspelt key (methods: {Extrct: ...}) configures a method nobody calls, and
// the real one keeps its service's policy. [Config.CheckNames] checks the names against
// those a program knows, such as the services of the descriptors it links
// (protoregistry.GlobalFiles), as the example orchestrator does with its -config.
//
// A [Warning] does not fail a load: it says that a profile's worst case (every attempt run
// to its timeout after the longest wait for a rate-limit token and a bulkhead slot, a wait
// that counts against retry.per_attempt_timeout, or else against deadline.max, every backoff
// sleep at its longest) does not fit the budget, and which attempts the budget will cut.
// The retry policy starts no retry whose sleep would leave less than
// retry.MinAttemptTime (5ms) before the budget: such an attempt never runs, and is warned
// about even in a worst case that ends within the budget. A profile with retry.fit_schedule
// is judged instead on a brownout, every attempt failing at once after its longest waits: its
// sleeps are fitted to the time left, so only waits that alone outlast the budget (or a
// budget so short that the fitted sleeps leave under 5ms) can keep its attempts from running.
// A worst case that fits
// the budget (or deadline.max) but not a shorter deadline.default is warned about too: every
// call without a deadline of its own gets that default. So is a hedge that can never be
// sent: its earliest delay (hedge.delay when fixed, hedge.min_delay when
// adaptive) is not below retry.per_attempt_timeout, or the budget (or deadline.max), which
// ends every attempt before its hedge is due. So is, under retry.fit_schedule, a
// retry.per_attempt_timeout not below the budget (or deadline.max): it cuts no attempt, and
// one that hangs leaves no time for a retry. [Explain] prints the
// resolved policies and those timelines (the orchestrator's -explain flag), the fitted ones
// beside the nominal worst case; [Policy.WorstCase] and [Policy.Fitted] compute them.
//
// # For the suite
//
// [Config.Policies] lists the resolved policy of every configured service and method;
// [Config.Resolve] answers for any full method name, listed or not. A [Policy] is plain data
// sharing nothing with its Config; on reload, [Profile.SameSection] tells which policies'
// state (breaker counts, limiter tokens) can be kept. [Config.UnmarshalYAML] lets a Config be
// a field of a larger YAML document decoded with go.yaml.in/yaml/v3 (decoded and validated,
// without the built-ins; another YAML package skips it, and every check with it).
//
// # gRPC service config
//
// [ParseServiceConfig] (and [LoadServiceConfig]) read the JSON service config that grpc-go's
// built-in retries use (gRFC A6) into an equivalent Config; the orchestrator's
// -service-config flag takes one, and -explain prints the result. Disable grpc-go's retries
// (grpc.WithDisableRetry) when the suite takes over, or calls are retried twice.
//
//	| service config                        | bulwark                                                     |
//	| ------------------------------------- | ----------------------------------------------------------- |
//	| methodConfig[i]                       | profile "grpc-<i>"                                          |
//	| name {service}                        | services.<service>.profile                                  |
//	| name {service, method}                | services.<service>.methods.<method>.profile                 |
//	| name {} (the default config)          | profile "default" (every service and method not named)      |
//	| timeout                               | deadline {default, max}: a ceiling, like gRPC's; 0s (every call fails at once in gRPC) none, with a warning |
//	| retryPolicy                           | retry, idempotent (gRPC retries every method it names); a unary failure after response headers retried, unlike grpc-go: a warning |
//	| retryPolicy.maxAttempts               | retry.max_attempts (capped at 5, as grpc-go does)           |
//	| initialBackoff, maxBackoff            | retry.initial_backoff (at most max), retry.max_backoff      |
//	| backoffMultiplier                     | retry.multiplier, with jitter full (random(0, d), as A6 first wrote; grpc-go sleeps d·[0.8, 1.2): a warning); below 1, 1 and above 100, 100, with a warning |
//	| perAttemptRecvTimeout                 | retry.per_attempt_timeout (grpc-go ignores it: a warning); a cut attempt is DEADLINE_EXCEEDED, retried only if listed (A6 retries it always) |
//	| retryableStatusCodes                  | classifier: listed codes transient (RESOURCE_EXHAUSTED throttled, but a message over a size limit stays business: codes), other codes bulwark would retry server_fault |
//	| hedgingPolicy                         | hedge, idempotent (A6 hedges every method it names)         |
//	| hedgingPolicy.maxAttempts             | hedge.max_attempts (capped at 5); grpc-go ignores hedgingPolicy: a warning |
//	| hedgingDelay                          | hedge.delay, fixed (0s becomes 1ms, with a warning)         |
//	| nonFatalStatusCodes                   | classifier, as retryableStatusCodes                         |
//	| retryThrottling {maxTokens, tokenRatio} | retry.throttle of every profile (per service, not per channel); a tokenRatio above maxTokens refills as maxTokens; every failure takes a token, not only the listed codes' as in grpc-go: a warning |
//
// Keys with no equivalent (waitForReady, loadBalancingConfig, message size limits) are
// warnings naming their JSON path. A methodConfig with both retryPolicy and hedgingPolicy, a
// retryPolicy or retryThrottling gRPC would reject, or a service name that is not fully
// qualified is an error. A retryThrottling out of A6's bounds is an error also in a file with
// no methodConfig, which grpc-go loads without checking it (nothing there retries). Durations are read as grpc-go reads them (decimal seconds, at most
// nine decimals, with a sign: "+1s" is 1s; past what a time.Duration holds, the longest one),
// except for a second sign or a sign after the point ("--1s", "1.+5s"), which grpc-go reads and
// bulwark refuses. A negative timeout (grpc-go sets no deadline for one), backoff,
// perAttemptRecvTimeout or hedgingDelay is an error.
package config
