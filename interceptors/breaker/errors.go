package breaker

import "errors"

// ErrOpen is the sentinel every breaker rejection wraps: errors.Is(err, ErrOpen) reports whether
// a call was refused because its circuit was open (or half-open with every probe slot taken,
// or forced open).
var ErrOpen = errors.New("circuit open")

// ErrSharedConflict is wrapped by the error of a suite's build (interceptors.Suite's New or
// Reload) that asks a registry shared with other suites for a breaker with other settings than
// those of the breaker it holds under that name while another suite holds it too: a name
// stands for one breaker (see Registry).
var ErrSharedConflict = errors.New("shared breaker configured with different settings")

// ReasonCircuitOpen is the google.rpc.ErrorInfo reason of a breaker rejection, and the Reason of
// its observe.Rejected event.
const ReasonCircuitOpen = "CIRCUIT_OPEN"

// The reasons a breaker gives for a state change, carried in observe.Event.Reason.
const (
	ReasonConsecutiveFailures = "consecutive_failures" // closed → open: failures in a row.
	ReasonFailureRate         = "failure_rate"         // closed → open: failure rate over the window.
	ReasonSlowCallRate        = "slow_call_rate"       // closed → open: slow-call rate over the window.
	ReasonRecoveryTimeout     = "recovery_timeout"     // open → half_open: RecoveryTimeout passed.
	ReasonProbeFailed         = "probe_failed"         // half_open → open: a probe failed.
	ReasonProbeSlow           = "probe_slow"           // half_open → open: a probe was slow.
	ReasonHalfOpenMaxWait     = "half_open_max_wait"   // half_open → open: every probe slot taken for HalfOpenMaxWait, none reporting.
	ReasonProbesSucceeded     = "probes_succeeded"     // half_open → closed: SuccessThreshold probes succeeded.
	ReasonForcedOpen          = "forced_open"          // any → forced_open: ForceOpen.
	ReasonDisabled            = "disabled"             // any → disabled: Disable.
	ReasonReset               = "reset"                // any → closed: Reset.
)
