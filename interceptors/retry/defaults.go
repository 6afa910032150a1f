package retry

import "cmp"

// Normalize returns cfg with every zero field that means a default replaced by that default:
// the values New runs with, and the ones config resolves and explains. It is the one place
// these defaults are written. It does not validate: a valid cfg gives a valid result.
func Normalize(cfg Config) Config {
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.InitialBackoff = cmp.Or(cfg.InitialBackoff, DefaultInitialBackoff)
	// Never below the initial backoff: 20s initial means a 20s ceiling, not 10s.
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, max(DefaultMaxBackoff, cfg.InitialBackoff))
	cfg.Multiplier = cmp.Or(cfg.Multiplier, DefaultMultiplier)
	cfg.Jitter = cmp.Or(cfg.Jitter, JitterFull)
	cfg.PerAttemptCut = cmp.Or(cfg.PerAttemptCut, CutAlways)
	cfg.ReplayBufferBytes = cmp.Or(cfg.ReplayBufferBytes, DefaultReplayBufferBytes)
	if cfg.Throttle.MaxTokens > 0 && cfg.Throttle.TokenRatio == 0 {
		// Never above max_tokens, which Validate forbids.
		cfg.Throttle.TokenRatio = min(DefaultTokenRatio, cfg.Throttle.MaxTokens)
	}
	if t := &cfg.Throttle; t.Ratio > 0 {
		t.MinPerSecond = cmp.Or(t.MinPerSecond, DefaultMinPerSecond)
		t.Window = cmp.Or(t.Window, DefaultBudgetWindow)
	}
	return cfg
}
