package ratelimit

import (
	"math"
	"time"
)

// Defaults of RedisConfig's zero values.
const (
	// DefaultRedisKeyPrefix is RedisConfig.KeyPrefix when it is empty.
	DefaultRedisKeyPrefix = "bulwark:ratelimit:"
	// DefaultRedisTimeout is RedisConfig.Timeout when it is 0.
	DefaultRedisTimeout = 50 * time.Millisecond
)

// Normalize returns cfg with every zero field that means a default replaced by that default:
// the values the limiters run with (Local's Rate and Burst, a fleet-wide limiter's Config), and
// the ones config resolves and explains. It is the one place these defaults are written. It
// does not validate: a valid cfg gives a valid result; a burst is only filled in for a positive
// rate. cfg.Redis is copied, never changed in place.
func Normalize(cfg Config) Config {
	if cfg.Burst == 0 && cfg.Rate > 0 {
		cfg.Burst = defaultBurst(cfg.Rate, 0)
	}
	if cfg.Redis != nil {
		r := *cfg.Redis
		if r.KeyPrefix == "" {
			r.KeyPrefix = DefaultRedisKeyPrefix
		}
		if r.Timeout == 0 {
			r.Timeout = DefaultRedisTimeout
		}
		cfg.Redis = &r
	}
	return cfg
}

// defaultBurst is Config.Burst's default for rate r: max(1, ceil(r)), at most 1e9 (the largest
// valid burst). A burst of 1 or more is kept.
func defaultBurst(r float64, burst int) int {
	if burst >= 1 {
		return burst
	}
	if r >= 1e9 {
		return 1e9
	}
	return max(1, int(math.Ceil(r)))
}
