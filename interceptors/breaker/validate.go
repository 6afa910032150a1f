package breaker

import (
	"strconv"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// Validate reports every field of c that is out of range (see retry.Config.Validate).
func (c Config) Validate() error {
	var v fielderr.Checker
	switch c.Scope {
	case "", ScopeService, ScopeMethod:
	default:
		v.Add("scope", string(c.Scope), "is not one of service, method")
	}
	v.Check(c.ConsecutiveFailures >= 0, "consecutive_failures", c.ConsecutiveFailures, "is negative")
	v.Check(c.FailureRateThreshold >= 0 && c.FailureRateThreshold <= 1, "failure_rate_threshold", c.FailureRateThreshold, "is outside [0, 1]")
	v.Check(c.FailureRateConfidence >= 0 && c.FailureRateConfidence < 1, "failure_rate_confidence", c.FailureRateConfidence, "is outside [0, 1)")
	v.Check(!(c.FailureRateConfidence > 0 && c.FailureRateConfidence < 0.5), "failure_rate_confidence", c.FailureRateConfidence, // NaN: the rule above alone
		"is below 0.5: it is a confidence level (0.999), not a significance level (0.001), and below one half the rule would trip under its threshold")
	// A confidence out of range is wrong whatever the threshold: that rule alone is reported.
	if c.FailureRateConfidence >= 0.5 && c.FailureRateConfidence < 1 {
		v.Check(c.FailureRateThreshold != 0, "failure_rate_confidence", c.FailureRateConfidence, "is set but failure_rate_threshold is not")
		v.Check(c.FailureRateThreshold != 1, "failure_rate_confidence", c.FailureRateConfidence, "is set with failure_rate_threshold 1, which a lower confidence bound never reaches")
		neverTrips(&v, c)
	}
	switch c.WindowType {
	case "", WindowCount, WindowTime:
	default:
		v.Add("window_type", string(c.WindowType), "is not one of count, time")
	}
	v.Check(c.WindowSize >= 0, "window_size", c.WindowSize, "is negative")
	v.Check(c.WindowSize <= 10000, "window_size", c.WindowSize, "is above 10000")
	v.Check(c.WindowDuration >= 0, "window_duration", c.WindowDuration, "is negative")
	v.Check(c.WindowDuration <= 3600e9, "window_duration", c.WindowDuration, "is above 1h0m0s")
	v.Check(c.MinimumCalls >= 0, "minimum_calls", c.MinimumCalls, "is negative")
	if c.WindowType != WindowTime {
		switch def := Normalize(Config{}).WindowSize; {
		case c.WindowSize > 0:
			v.Check(c.MinimumCalls <= c.WindowSize, "minimum_calls", c.MinimumCalls, "is above window_size ("+strconv.Itoa(c.WindowSize)+"), so the rate would never be judged")
		case c.WindowSize == 0:
			v.Check(c.MinimumCalls <= def, "minimum_calls", c.MinimumCalls, "is above window_size's default, "+strconv.Itoa(def)+", so the rate would never be judged")
		}
	}
	v.Check(c.SlowCallDuration >= 0, "slow_call_duration", c.SlowCallDuration, "is negative")
	v.Check(c.SlowCallRateThreshold >= 0 && c.SlowCallRateThreshold <= 1, "slow_call_rate_threshold", c.SlowCallRateThreshold, "is outside [0, 1]")
	// Likewise a threshold out of range, whatever slow_call_duration.
	v.Check(!(c.SlowCallRateThreshold > 0 && c.SlowCallRateThreshold <= 1) || c.SlowCallDuration != 0, "slow_call_rate_threshold", c.SlowCallRateThreshold, "is set but slow_call_duration is not")
	v.Check(c.RecoveryTimeout >= 0, "recovery_timeout", c.RecoveryTimeout, "is negative")
	v.Check(c.InitialRecoveryTimeout >= 0, "initial_recovery_timeout", c.InitialRecoveryTimeout, "is negative")
	fielderr.ZeroOrWithin(&v, "recovery_multiplier", c.RecoveryMultiplier, 1, 1000)
	v.Check(c.HalfOpenMaxCalls >= 0, "half_open_max_calls", c.HalfOpenMaxCalls, "is negative")
	v.Check(c.SuccessThreshold >= 0, "success_threshold", c.SuccessThreshold, "is negative")
	v.Check(c.HalfOpenMaxWait >= 0, "half_open_max_wait", c.HalfOpenMaxWait, "is negative")
	v.Check(c.HalfOpenMaxWait <= 0 || c.SlowCallDuration <= 0 || c.HalfOpenMaxWait >= c.SlowCallDuration, "half_open_max_wait", c.HalfOpenMaxWait,
		"is below slow_call_duration ("+c.SlowCallDuration.String()+"), so the breaker would give up on a probe it would count as fast")
	return v.Err()
}

// neverTrips refuses a failure-rate rule with a confidence that a full count window cannot
// satisfy: the Wilson lower bound of n failures out of n is n/(n+z²), below the threshold when
// the window is small, and a breaker built from it would never trip on its rate. A time window
// holds as many calls as arrive, so enough of them always trip.
func neverTrips(v *fielderr.Checker, c Config) {
	n, size := c.WindowSize, "window_size "+strconv.Itoa(c.WindowSize)+","
	if n == 0 {
		n = Normalize(Config{}).WindowSize
		size = "window_size's default, " + strconv.Itoa(n) + ","
	}
	if (c.WindowType != "" && c.WindowType != WindowCount) || n < 1 || n > 10000 || c.FailureRateConfidence < 0.5 || c.FailureRateConfidence >= 1 || !(c.FailureRateThreshold > 0 && c.FailureRateThreshold < 1) {
		return // Out of range (NaN too), and said so by the other checks.
	}
	if !rateTrips(n, n, 1, c.FailureRateThreshold, quantile(c.FailureRateConfidence)) {
		v.Add("failure_rate_confidence", c.FailureRateConfidence, "is set with "+size+" so even "+strconv.Itoa(n)+" failures of "+
			strconv.Itoa(n)+" would never trip failure_rate_threshold "+strconv.FormatFloat(c.FailureRateThreshold, 'g', -1, 64))
	}
}

// unused reports the window's fields set where no rule reads them (see section.Spec.Unused):
// any of them without a failure rate or a slow-call rate (failure_rate_threshold,
// slow_call_duration), the only rules that keep a window; window_duration with a count
// window; window_size with a time window. Validate accepts them, so that a service can turn
// its profile's rate off with failure_rate_threshold: 0, or change the window's type, without
// writing the 0 of a field that means its default; config refuses them where they are written.
func unused(c Config) error {
	var v fielderr.Checker
	if c.FailureRateThreshold == 0 && c.SlowCallDuration == 0 {
		const rule = "is set but failure_rate_threshold is not, nor slow_call_duration: only a rate reads the window"
		v.Check(c.WindowType == "", "window_type", string(c.WindowType), rule)
		v.Check(c.WindowSize == 0, "window_size", c.WindowSize, rule)
		v.Check(c.WindowDuration == 0, "window_duration", c.WindowDuration, rule)
		v.Check(c.MinimumCalls == 0, "minimum_calls", c.MinimumCalls, rule)
		return v.Err()
	}
	v.Check(c.WindowDuration == 0 || c.WindowType == WindowTime, "window_duration", c.WindowDuration, "is set but window_type is not time: a count window reads window_size")
	v.Check(c.WindowSize == 0 || c.WindowType != WindowTime, "window_size", c.WindowSize, "is set with window_type time: a time window reads window_duration")
	return v.Err()
}
