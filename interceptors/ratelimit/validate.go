package ratelimit

import (
	"math"
	"net"
	"strconv"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// MinRate is the lowest rate a Config takes: one call per century.
const MinRate = 1 / (100 * 365 * 24 * 3600.0)

// MaxFleetRate is the highest rate, in calls per second, of a fleet-wide limit (a Config with
// Redis set). The bucket's state in Redis is a time in float seconds since 2017, whose step is
// 2⁻²⁴ s, about 60 ns, from mid-2025 to 2034: at 1e6 calls per second (an interval of 1 µs)
// the interval is off by up to half a step, 3 %, at 1e7 by a third, and above about 3e7 the
// bucket never refills. One Redis instance serves about 1e5 scripts per second anyway.
// Validate refuses a higher rate, so that a configuration that no fleet-wide limiter could
// serve is refused as it loads, not at every call of the methods it covers.
const MaxFleetRate = 1e6

// Validate reports every field of c that is out of range (see retry.Config.Validate).
func (c Config) Validate() error {
	var v fielderr.Checker
	v.Check(c.Rate > 0 && !math.IsInf(c.Rate, 0), "rate", c.Rate, "is not a positive number of calls per second")
	v.Check(!(c.Rate > 1e9) || math.IsInf(c.Rate, 1), "rate", c.Rate, "is above 1e9") // +Inf: the rule above alone
	v.Check(!(c.Rate > 0) || c.Rate >= MinRate, "rate", c.Rate, "is below one call per century")
	v.Check(c.Burst >= 0, "burst", c.Burst, "is negative")
	v.Check(c.Burst <= 1e9, "burst", c.Burst, "is above 1e9")
	v.Check(c.MaxWait >= 0, "max_wait", c.MaxWait, "is negative")
	if r := c.Redis; r != nil {
		if _, port, err := net.SplitHostPort(r.Addr); err != nil || !dialablePort(port) {
			v.Add("redis.addr", r.Addr, "is not host:port")
		}
		v.Check(r.Timeout >= 0, "redis.timeout", r.Timeout, "is negative")
		v.Check(!(c.Rate > MaxFleetRate) || c.Rate > 1e9, "rate", c.Rate,
			"is above 1e6, the highest fleet-wide rate (rate_limit.redis): past it a bucket's times in Redis, float seconds, are too coarse for its interval")
	}
	return v.Err()
}

// dialablePort reports whether port, of an address net.SplitHostPort took, is one a dial can
// reach: a number from 1 to 65535, or a service name (such as "redis", which the resolver
// looks up), which begins with a letter. An empty port (an address "redis:") or port 0 would
// fail every dial.
func dialablePort(port string) bool {
	if port == "" {
		return false
	}
	if c := port[0]; c >= '0' && c <= '9' {
		n, err := strconv.ParseUint(port, 10, 16)
		return err == nil && n > 0
	}
	c := port[0] | 0x20
	return c >= 'a' && c <= 'z'
}
