package retry

// Normalize returns cfg with every zero field that means a default replaced by that default:
// the values New runs with, and the ones config resolves and explains. It is the one place
// these defaults are written. It does not validate: a valid cfg gives a valid result.
func Normalize(cfg Config) Config {
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff == 0 {
		// Never below the initial backoff: 20s initial means a 20s ceiling, not 10s.
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.InitialBackoff)
	}
	if cfg.Multiplier == 0 {
		cfg.Multiplier = DefaultMultiplier
	}
	if cfg.Jitter == "" {
		cfg.Jitter = JitterFull
	}
	if cfg.ReplayBufferBytes == 0 {
		cfg.ReplayBufferBytes = DefaultReplayBufferBytes
	}
	if cfg.Throttle.MaxTokens > 0 && cfg.Throttle.TokenRatio == 0 {
		// Never above max_tokens, which Validate forbids.
		cfg.Throttle.TokenRatio = min(DefaultTokenRatio, cfg.Throttle.MaxTokens)
	}
	if t := &cfg.Throttle; t.Ratio > 0 {
		if t.MinPerSecond == 0 {
			t.MinPerSecond = DefaultMinPerSecond
		}
		if t.Window == 0 {
			t.Window = DefaultBudgetWindow
		}
	}
	return cfg
}
