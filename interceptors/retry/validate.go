package retry

import (
	"strconv"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// minTokenFraction is the least positive max_tokens or token_ratio the token bucket can
// count: it counts thousandths of a token, rounded to the nearest.
const minTokenFraction = 0.0005

// Validate reports every field of c that is out of range, as errors naming the yaml field, the
// value and the rule (joined with errors.Join). Zero values, which mean defaults, are valid.
func (c Config) Validate() error {
	var v fielderr.Checker
	v.Check(c.MaxAttempts >= 0, "max_attempts", c.MaxAttempts, "is below 1")
	v.Check(c.MaxAttempts <= 100, "max_attempts", c.MaxAttempts, "is above 100")
	v.DurationRange("initial_backoff", c.InitialBackoff, "max_backoff", c.MaxBackoff)
	fielderr.ZeroOrWithin(&v, "multiplier", c.Multiplier, 1, 100)
	switch c.Jitter {
	case "", JitterNone, JitterFull, JitterEqual, JitterDecorrelated, JitterAdditive:
	default:
		v.Add("jitter", string(c.Jitter), "is not one of none, full, equal, decorrelated, additive")
	}
	v.Check(c.JitterAmount >= 0, "jitter_amount", c.JitterAmount, "is negative")
	// A negative amount is wrong whatever the jitter: that rule alone is reported.
	v.Check(c.JitterAmount <= 0 || c.Jitter == JitterAdditive, "jitter_amount", c.JitterAmount, "is set but jitter is not additive")
	v.Check(c.PerAttemptTimeout >= 0, "per_attempt_timeout", c.PerAttemptTimeout, "is negative")
	switch c.PerAttemptCut {
	case "", CutAlways, CutOvertaken:
	default:
		v.Add("per_attempt_cut", string(c.PerAttemptCut), "is not one of always, overtaken")
	}
	v.Check(c.Budget >= 0, "budget", c.Budget, "is negative")
	if c.Budget > 0 && c.PerAttemptTimeout > 0 {
		v.Check(c.PerAttemptTimeout <= c.Budget, "per_attempt_timeout", c.PerAttemptTimeout, "is above budget ("+c.Budget.String()+")")
	}
	v.Check(c.Throttle.MaxTokens >= 0, "throttle.max_tokens", c.Throttle.MaxTokens, "is negative")
	v.Check(c.Throttle.MaxTokens <= 1000, "throttle.max_tokens", c.Throttle.MaxTokens, "is above 1000")
	v.Check(c.Throttle.TokenRatio >= 0, "throttle.token_ratio", c.Throttle.TokenRatio, "is negative")
	// Against a max_tokens out of range, which has its own error, token_ratio is not judged.
	if c.Throttle.MaxTokens >= minTokenFraction && c.Throttle.MaxTokens <= 1000 {
		v.Check(c.Throttle.TokenRatio <= c.Throttle.MaxTokens, "throttle.token_ratio", c.Throttle.TokenRatio, "is above throttle.max_tokens ("+strconv.FormatFloat(c.Throttle.MaxTokens, 'g', -1, 64)+")")
	}
	// The bucket counts thousandths of a token: a positive value that rounds to none would
	// make a bucket that never allows a retry (max_tokens) or that successes never refill.
	v.Check(c.Throttle.MaxTokens <= 0 || c.Throttle.MaxTokens >= minTokenFraction, "throttle.max_tokens", c.Throttle.MaxTokens, "is below 0.0005 (the bucket counts thousandths of a token)")
	v.Check(c.Throttle.TokenRatio <= 0 || c.Throttle.TokenRatio >= minTokenFraction, "throttle.token_ratio", c.Throttle.TokenRatio, "is below 0.0005 (the bucket counts thousandths of a token)")
	t := c.Throttle
	v.Check(t.Ratio >= 0, "throttle.ratio", t.Ratio, "is negative")
	v.Check(t.Ratio <= 10, "throttle.ratio", t.Ratio, "is above 10")
	// A ratio or token_ratio out of range is reported by its own rule alone.
	v.Check(t.Ratio <= 0 || t.Ratio > 10 || t.MaxTokens == 0, "throttle.ratio", t.Ratio, "is set with throttle.max_tokens (choose the ratio budget or the token bucket)")
	v.Check(t.TokenRatio <= 0 || t.Ratio == 0, "throttle.token_ratio", t.TokenRatio, "is set with throttle.ratio (token_ratio belongs to the token bucket)")
	v.Check(t.MinPerSecond >= 0, "throttle.min_per_second", t.MinPerSecond, "is negative")
	v.Check(t.MinPerSecond <= 1000, "throttle.min_per_second", t.MinPerSecond, "is above 1000")
	// The ratio budget counts thousandths of a retry too: a ratio, or a floor of
	// min_per_second·window retries, that rounds to none allows no retry by it.
	v.Check(t.Ratio <= 0 || t.Ratio >= minTokenFraction, "throttle.ratio", t.Ratio, "is below 0.0005 (the budget counts thousandths of a retry per call)")
	if t.Ratio > 0 && t.MinPerSecond > 0 && t.Window >= time.Second {
		v.Check(t.MinPerSecond*t.Window.Seconds() >= minTokenFraction, "throttle.min_per_second", t.MinPerSecond,
			"allows below 0.0005 retries in throttle.window ("+t.Window.String()+"): the budget counts thousandths of a retry")
	}
	v.Check(t.Window >= 0, "throttle.window", t.Window, "is negative")
	v.Check(t.Window <= 0 || t.Window >= time.Second, "throttle.window", t.Window, "is below 1s")
	v.Check(t.Window <= 10*time.Minute, "throttle.window", t.Window, "is above 10m")
	v.Check(c.ReplayBufferBytes <= attempt.MaxReplayBytes, "replay_buffer_bytes", c.ReplayBufferBytes, "is above 1 GiB")
	return v.Err()
}

// unused reports the retry budget's fields set beside no budget that reads them (see
// section.Spec.Unused): min_per_second and window without a ratio (the token bucket reads
// neither), token_ratio without max_tokens. Validate accepts them, so that a service can
// turn its profile's budget off with ratio: 0 (or max_tokens: 0) alone; config refuses them
// where they are written.
func unused(c Config) error {
	var v fielderr.Checker
	t := c.Throttle
	if t.Ratio == 0 {
		v.Check(t.MinPerSecond == 0, "throttle.min_per_second", t.MinPerSecond, "is set but throttle.ratio is not: only the ratio budget reads it")
		v.Check(t.Window == 0, "throttle.window", t.Window, "is set but throttle.ratio is not: only the ratio budget reads it")
	}
	if t.MaxTokens == 0 {
		v.Check(t.TokenRatio == 0, "throttle.token_ratio", t.TokenRatio, "is set but throttle.max_tokens is not: only the token bucket reads it")
	}
	return v.Err()
}
