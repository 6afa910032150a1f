package breaker

import "time"

// Scope says which calls share a breaker.
type Scope string

// The breaker scopes.
const (
	// ScopeService gives every method of a service one breaker (the default). In a suite, a
	// method whose breaker settings differ from its service's (overrides or a profile of its
	// own) has a breaker of its own, named by its full method: its outcomes do not move the
	// service's breaker, and the service's open circuit does not refuse it. A method whose
	// classifier alone differs goes through the service's breaker, which counts that method's
	// outcomes as the method's classifier judges them: its business errors are no failures,
	// its transient ones are, and the service's open circuit refuses it.
	ScopeService Scope = "service"
	// ScopeMethod gives each method its own breaker.
	ScopeMethod Scope = "method"
)

// WindowType says how the failure-rate window is measured.
type WindowType string

// The window types.
const (
	// WindowCount keeps the outcomes of the last WindowSize calls (the default).
	WindowCount WindowType = "count"
	// WindowTime keeps the outcomes of the last WindowDuration.
	WindowTime WindowType = "time"
)

// Config is the circuit breaker as data. Zero values are the documented defaults.
//
// Tripping: the breaker opens after ConsecutiveFailures failures in a row, or when the failure
// rate (or slow-call rate) over the window reaches its threshold. A rate is judged only when the
// window holds at least MinimumCalls outcomes, and only when a failure (or slow call) is recorded.
// With FailureRateConfidence, the failure rate must be significantly above its threshold (a
// lower confidence bound reaches it), not merely above it by chance.
//
// Recovery: the first open interval after a trip is InitialRecoveryTimeout; each failed probe
// multiplies it by RecoveryMultiplier, up to RecoveryTimeout; closing starts over. Probes that
// hold every slot for HalfOpenMaxWait without reporting count as a failed probe.
type Config struct {
	// Scope is which calls share a breaker. Empty means ScopeService.
	Scope Scope `yaml:"scope" json:"scope" zero:"is not one of service, method"`
	// ConsecutiveFailures trips the breaker after this many failures in a row. 0 means 5 when
	// FailureRateThreshold is 0, and off otherwise.
	ConsecutiveFailures int `yaml:"consecutive_failures" json:"consecutive_failures"`
	// FailureRateThreshold trips the breaker when the share of failures in the window reaches it,
	// in (0, 1]. 0 means rate-based tripping is off.
	FailureRateThreshold float64 `yaml:"failure_rate_threshold" json:"failure_rate_threshold"`
	// FailureRateConfidence, 0 or in [0.5, 1), makes the failure-rate rule ask for evidence: it
	// trips only when the Wilson score lower bound of the window's failure rate, at this
	// one-sided confidence level, reaches FailureRateThreshold. 0 means the share itself is compared (a
	// window that crosses the threshold by chance trips). 0.999 lets a random failure rate below
	// the threshold trip about once in 1 000 windows at the threshold itself, and far less below.
	// A count window too short to give that evidence even when every call in it fails (the
	// bound of n failures out of n is n/(n+z²)) is refused by Validate: 0.999 with threshold 0.5
	// needs a window of at least 10 calls. It is a confidence level, not a significance level:
	// below 0.5 the bound would lie above the share and the rule trip under its threshold, so
	// Validate refuses it.
	FailureRateConfidence float64 `yaml:"failure_rate_confidence" json:"failure_rate_confidence"`
	// The window (WindowType, WindowSize, WindowDuration, MinimumCalls) is kept only for a
	// failure rate or a slow-call rate: package config refuses its fields written without
	// one, and WindowDuration with a count window or WindowSize with a time window.
	//
	// WindowType is how the window is measured. Empty means WindowCount.
	WindowType WindowType `yaml:"window_type" json:"window_type" zero:"is not one of count, time"`
	// WindowSize is the count window's length in calls. 0 means 10.
	WindowSize int `yaml:"window_size" json:"window_size" zero:"is below 1"`
	// WindowDuration is the time window's length. 0 means 10s.
	WindowDuration time.Duration `yaml:"window_duration" json:"window_duration" zero:"is not positive (leave it out for the default 10s)"`
	// MinimumCalls is how many outcomes the window must hold before a rate is judged. 0 means a
	// full window for WindowCount (WindowSize), and 10 for WindowTime.
	MinimumCalls int `yaml:"minimum_calls" json:"minimum_calls" zero:"is below 1"`
	// SlowCallDuration makes a call that takes longer a slow call. 0 means slow calls are not
	// counted. A call's time runs from the breaker's admission, so in the suite (breaker, then
	// adaptive throttle, rate limiter and bulkhead) it includes a wait for a rate-limit token or
	// a bulkhead slot: set it above those waits (max_wait), or a queue of the client's own can
	// trip the breaker of a healthy service.
	SlowCallDuration time.Duration `yaml:"slow_call_duration" json:"slow_call_duration"`
	// SlowCallRateThreshold trips the breaker when the share of slow calls in the window reaches
	// it, in (0, 1]. 0 means 1 when SlowCallDuration is set.
	SlowCallRateThreshold float64 `yaml:"slow_call_rate_threshold" json:"slow_call_rate_threshold" zero:"is not positive (leave it out for 1)"`
	// RecoveryTimeout is how long the breaker stays open before it half-opens: the longest open
	// interval when InitialRecoveryTimeout is shorter. 0 means 30s.
	RecoveryTimeout time.Duration `yaml:"recovery_timeout" json:"recovery_timeout" zero:"is not positive (leave it out for the default 30s)"`
	// InitialRecoveryTimeout is the open interval after a trip from the closed state. Each failed
	// (or slow) probe multiplies the interval by RecoveryMultiplier, up to RecoveryTimeout; the
	// next trip after the breaker closes starts again from InitialRecoveryTimeout. 0 means
	// RecoveryTimeout: every open interval is RecoveryTimeout. Above RecoveryTimeout it is cut
	// to it, so that lowering RecoveryTimeout alone still bounds every interval.
	InitialRecoveryTimeout time.Duration `yaml:"initial_recovery_timeout" json:"initial_recovery_timeout" zero:"is not positive (leave it out to open for recovery_timeout every time)"`
	// RecoveryMultiplier is what a failed probe multiplies the open interval by, at least 1.
	// 0 means 2.
	RecoveryMultiplier float64 `yaml:"recovery_multiplier" json:"recovery_multiplier" zero:"is below 1 (leave it out for the default 2)"`
	// HalfOpenMaxCalls is how many probe calls the half-open breaker admits at once; further
	// calls are rejected. 0 means 1.
	HalfOpenMaxCalls int `yaml:"half_open_max_calls" json:"half_open_max_calls" zero:"is below 1"`
	// SuccessThreshold is how many successful probes close the breaker. They add up over the
	// half-open period, as probes end and others take their slots, so it may exceed
	// HalfOpenMaxCalls. 0 means HalfOpenMaxCalls.
	SuccessThreshold int `yaml:"success_threshold" json:"success_threshold" zero:"is below 1"`
	// HalfOpenMaxWait is how long the half-open breaker waits, with every probe slot taken, for
	// a probe to report: then it gives up on them and reopens, as after a failed probe (reason
	// half_open_max_wait), and their reports, when they come, are dropped. It is timed from when
	// the last free slot was taken. Without it, probes that never report (a stream nobody reads,
	// a call with no deadline, a Permit never returned) would hold the breaker half-open,
	// refusing every other call, for ever; so there is no "off". 0 means 1m, or
	// SlowCallDuration when that is longer: above the deadline of nearly any RPC, so that a
	// merely slow probe gets to answer, and twice the default RecoveryTimeout, so that hung
	// probes cost about one or two open intervals more than a failed one. Set it above the
	// longest call a probe may legitimately make (a small multiple of the calls' deadline);
	// below SlowCallDuration it is refused. See the package documentation, "Probes that never
	// report".
	HalfOpenMaxWait time.Duration `yaml:"half_open_max_wait" json:"half_open_max_wait" zero:"is not positive (leave it out for the default: 1m0s, or slow_call_duration when longer)"`
}
