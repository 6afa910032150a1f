package hedge

import "cmp"

// Normalize returns cfg with every zero field that means a default replaced by that default:
// the values New runs with, and the ones config resolves and explains. It is the one place
// these defaults are written. It does not validate: a valid cfg gives a valid result.
//
// A fixed delay (Delay set, Percentile zero) stays fixed: Percentile stays zero. The fields
// only a learnt delay reads (MinDelay, Window, MinSamples) take their defaults either way, so
// that the result is the same whichever way the delay is chosen.
func Normalize(cfg Config) Config {
	fixed := cfg.Percentile == 0 && cfg.Delay > 0
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.Delay = cmp.Or(cfg.Delay, DefaultDelay)
	if !fixed {
		cfg.Percentile = cmp.Or(cfg.Percentile, DefaultPercentile)
		cfg.MedianMultiple = cmp.Or(cfg.MedianMultiple, DefaultMedianMultiple)
	}
	if cfg.MinDelay == 0 {
		cfg.MinDelay = DefaultMinDelay
		if cfg.MaxDelay > 0 {
			// Never above max_delay, which Validate forbids.
			cfg.MinDelay = min(cfg.MinDelay, cfg.MaxDelay)
		}
	}
	cfg.Window = cmp.Or(cfg.Window, DefaultWindow)
	cfg.MinSamples = cmp.Or(cfg.MinSamples, min(DefaultMinSamples, cfg.Window))
	cfg.ReplayBufferBytes = cmp.Or(cfg.ReplayBufferBytes, DefaultReplayBufferBytes)
	return cfg
}
