package ratelimit

import (
	"fmt"

	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "rate_limit",
		Rank:      section.RankRateLimit,
		Normalize: Normalize,
		Validate:  Config.Validate,
		Zero: map[string]string{
			"burst":            "is below 1",
			"redis.key_prefix": "is empty (leave it out for the default)",
			"redis.timeout":    "is not positive (leave it out for the default 50ms)",
		},
		Equal:   Config.Equal,
		Explain: Config.Explain,
	})
}

// Equal reports whether c and d have the same fields, comparing their Redis sections by value.
func (c Config) Equal(d Config) bool {
	if (c.Redis == nil) != (d.Redis == nil) || (c.Redis != nil && *c.Redis != *d.Redis) {
		return false
	}
	c.Redis, d.Redis = nil, nil
	return c == d
}

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	t := fmt.Sprintf("%s calls/s, burst %d; %s", prose.Float(c.Rate), c.Burst, prose.Wait(c.MaxWait, "a token"))
	if c.Shared != "" {
		t += fmt.Sprintf("; shared bucket %q", c.Shared)
	}
	if rd := c.Redis; rd != nil {
		mode := "fail closed"
		if rd.FailOpen {
			mode = "fail open"
		}
		t += fmt.Sprintf("; fleet-wide on redis %s (prefix %q, timeout %s, %s)", rd.Addr, rd.KeyPrefix, rd.Timeout, mode)
	}
	return t
}
