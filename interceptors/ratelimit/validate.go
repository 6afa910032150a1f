package ratelimit

import (
	"math"
	"net"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// MinRate is the lowest rate a Config takes: one call per century.
const MinRate = 1 / (100 * 365 * 24 * 3600.0)

// Validate reports every field of c that is out of range (see retry.Config.Validate).
func (c Config) Validate() error {
	var v fielderr.Checker
	v.Check(c.Rate > 0 && !math.IsInf(c.Rate, 0), "rate", c.Rate, "is not a positive number of calls per second")
	v.Check(c.Rate <= 1e9, "rate", c.Rate, "is above 1e9")
	v.Check(!(c.Rate > 0) || c.Rate >= MinRate, "rate", c.Rate, "is below one call per century")
	v.Check(c.Burst >= 0, "burst", c.Burst, "is negative")
	v.Check(c.Burst <= 1e9, "burst", c.Burst, "is above 1e9")
	v.Check(c.MaxWait >= 0, "max_wait", c.MaxWait, "is negative")
	if r := c.Redis; r != nil {
		if _, _, err := net.SplitHostPort(r.Addr); err != nil {
			v.Add("redis.addr", r.Addr, "is not host:port")
		}
		v.Check(r.Timeout >= 0, "redis.timeout", r.Timeout, "is negative")
	}
	return v.Err()
}
