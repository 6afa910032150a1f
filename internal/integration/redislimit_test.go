package integration_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit/redislimit"
)

// Issue 17 item 8 for the fleet-wide limiter (config's TestResolvedDefaultsAreThePolicies
// checks the local one): a rate_limit section with redis resolves to exactly the Config the
// limiter redislimit.New builds runs with. New makes no connection.
func TestResolvedRedisLimitIsTheLimiters(t *testing.T) {
	const doc = `
services:
  a.v1.S: {rate_limit: {rate: 10, redis: {addr: "127.0.0.1:1"}}}
  b.v1.S: {rate_limit: {rate: 0.25, redis: {addr: "127.0.0.1:1", key_prefix: "p:", timeout: 1s, fail_open: true}}}`
	cfg, _, err := config.Parse("redis.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, p := range cfg.Policies() {
		if p.RateLimit == nil || p.RateLimit.Redis == nil {
			continue
		}
		checked++
		where, resolved := p.FullMethod(), *p.RateLimit
		l, err := redislimit.New("s", resolved)
		if err != nil {
			t.Errorf("%s: redislimit.New rejects the resolved rate_limit: %v", where, err)
			continue
		}
		got := l.Config()
		_ = l.Close()
		if got.Redis == nil || *got.Redis != *resolved.Redis {
			t.Errorf("%s: rate_limit.redis resolves to\n%+v\nthe limiter runs with\n%+v", where, *resolved.Redis, got.Redis)
			continue
		}
		got.Redis, resolved.Redis = nil, nil
		if got != resolved {
			t.Errorf("%s: rate_limit resolves to\n%+v\nthe limiter runs with\n%+v", where, resolved, got)
		}
	}
	if checked < 2 {
		t.Fatalf("checked %d policies with a redis limit, want at least 2 (one per service)", checked)
	}
}
