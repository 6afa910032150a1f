package ratelimit

import "time"

// Config is the rate limiter as data.
type Config struct {
	// Rate is the sustained rate, in calls per second. It must be positive.
	Rate float64 `yaml:"rate" json:"rate"`
	// Burst is how many calls may pass at once after a quiet spell (the bucket's size).
	// 0 means max(1, ceil(Rate)).
	Burst int `yaml:"burst" json:"burst" zero:"is below 1"`
	// MaxWait is how long a call may wait for a token (a token due exactly MaxWait away is
	// waited for), never until its own deadline: it fails at once when the token would come at
	// the deadline or after it, which would leave the call no time. 0 means fail fast.
	MaxWait time.Duration `yaml:"max_wait" json:"max_wait"`
	// Shared names a bucket shared by every service or method whose limiter has the same name
	// and the same store: without Redis, one bucket in the process (with one rate and burst);
	// with Redis, the Redis key of that name under the key prefix, in place of the service's.
	// Either way one configuration gives a shared name one rate and burst (package config
	// refuses two); redislimit's key names the limit too, so replicas configured with other
	// limits (a rolling deploy that changes them) draw on a bucket each.
	// A local and a fleet-wide limiter of one name are two buckets. Empty means the limiter is
	// the service's own.
	Shared string `yaml:"shared" json:"shared"`
	// Redis, when set, makes the limit fleet-wide: every process sharing the Redis server, key
	// prefix, name, rate and burst draws from one bucket.
	Redis *RedisConfig `yaml:"redis" json:"redis"`
}

// RedisConfig is a fleet-wide limiter's connection to Redis.
type RedisConfig struct {
	// Addr is the Redis server's host:port.
	Addr string `yaml:"addr" json:"addr"`
	// KeyPrefix prefixes every key the limiter writes. Empty means "bulwark:ratelimit:".
	KeyPrefix string `yaml:"key_prefix" json:"key_prefix" zero:"is empty (leave it out for the default)"`
	// Timeout bounds each Redis round trip. 0 means 50ms.
	Timeout time.Duration `yaml:"timeout" json:"timeout" zero:"is not positive (leave it out for the default 50ms)"`
	// FailOpen lets calls through (under a local limiter at the same rate) when Redis cannot be
	// asked in time; false rejects them.
	FailOpen bool `yaml:"fail_open" json:"fail_open"`
}
