package config_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"google.golang.org/grpc"
)

// Regression tests for issue 17 item 8: the defaults config resolves are the ones each policy
// runs with, and Parse accepts exactly what the policies' New accept.

// TestResolvedDefaultsAreThePolicies resolves every section of a set of configurations
// (the built-in one and edge cases) and builds each policy from the resolved section: the
// policy's own Config(), its defaults filled in by itself, must equal what config resolved.
func TestResolvedDefaultsAreThePolicies(t *testing.T) {
	docs := map[string]string{
		"initial above the default max": `
services:
  a.v1.S: {retry: {initial_backoff: 20s}, hedge: {max_delay: 500us}, breaker: {failure_rate_threshold: 0.5}, adaptive_throttle: {k: 1.5}}`,
		"small token bucket": `
services:
  a.v1.S: {retry: {throttle: {max_tokens: 0.05}}, hedge: {delay: 40ms}, breaker: {window_type: time, slow_call_duration: 1s}}`,
		"empty sections": `
services:
  a.v1.S: {retry: {}, hedge: {}, breaker: {}, adaptive_throttle: {}, bulkhead: {}, rate_limit: {rate: 2.5}}`,
		"bulkheads and local limits": `
services:
  a.v1.S: {bulkhead: {max_concurrent: 3, max_wait: 10ms}, rate_limit: {rate: 0.5, burst: 3}}
  b.v1.S: {bulkhead: {adaptive: {algorithm: aimd}}, rate_limit: {rate: 1000000000}}
  c.v1.S: {bulkhead: {max_concurrent: 40, adaptive: {algorithm: gradient, min_limit: 4}}, rate_limit: {rate: 7, max_wait: 5ms}}
  d.v1.S: {bulkhead: {max_concurrent: 2, adaptive: {algorithm: gradient, backoff_ratio: 0.5, smoothing: 1}}}
  e.v1.S: {bulkhead: {adaptive: {algorithm: aimd, min_limit: 6, latency_threshold: 1s}}}`,
		"redis limits": `
services:
  a.v1.S: {rate_limit: {rate: 10, redis: {addr: "127.0.0.1:1"}}}
  b.v1.S: {rate_limit: {rate: 0.25, redis: {addr: "127.0.0.1:1", key_prefix: "p:", timeout: 1s, fail_open: true}}}`,
	}
	cfgs := map[string]*config.Config{"builtin": config.Builtin()}
	for name, doc := range docs {
		cfg, _, err := config.Parse(name+".yaml", []byte(doc))
		if err != nil {
			t.Fatalf("%s: Parse: %v", name, err)
		}
		cfgs[name] = cfg
	}
	for name, cfg := range cfgs {
		for _, p := range cfg.Policies() {
			where := name + " " + p.FullMethod()
			if p.Retry != nil {
				rp, err := retry.New(*p.Retry)
				if err != nil {
					t.Errorf("%s: retry.New rejects the resolved retry: %v", where, err)
				} else if got := rp.Config(); got != *p.Retry {
					t.Errorf("%s: retry resolves to\n%+v\nthe policy runs with\n%+v", where, *p.Retry, got)
				}
			}
			if p.Hedge != nil {
				hp, err := hedge.New(*p.Hedge)
				if err != nil {
					t.Errorf("%s: hedge.New rejects the resolved hedge: %v", where, err)
				} else if got := hp.Config(); got != *p.Hedge {
					t.Errorf("%s: hedge resolves to\n%+v\nthe policy runs with\n%+v", where, *p.Hedge, got)
				}
			}
			if p.Breaker != nil {
				b, err := breaker.New("b", *p.Breaker)
				if err != nil {
					t.Errorf("%s: breaker.New rejects the resolved breaker: %v", where, err)
				} else if got := b.Config(); got != *p.Breaker {
					t.Errorf("%s: breaker resolves to\n%+v\nthe policy runs with\n%+v", where, *p.Breaker, got)
				}
			}
			if p.AdaptiveThrottle != nil {
				th, err := throttle.New("s", *p.AdaptiveThrottle)
				if err != nil {
					t.Errorf("%s: throttle.New rejects the resolved adaptive_throttle: %v", where, err)
				} else if got := th.Config(); got != *p.AdaptiveThrottle {
					t.Errorf("%s: adaptive_throttle resolves to\n%+v\nthe policy runs with\n%+v", where, *p.AdaptiveThrottle, got)
				}
			}
			if p.Bulkhead != nil {
				checkBulkhead(t, where, *p.Bulkhead)
			}
			if p.RateLimit != nil {
				checkRateLimit(t, where, *p.RateLimit)
			}
		}
	}
}

// checkBulkhead builds a bulkhead from the resolved section: it runs with exactly that
// configuration, and an adaptive one starts at the resolved initial limit.
func checkBulkhead(t *testing.T, where string, resolved bulkhead.Config) {
	t.Helper()
	b, err := bulkhead.New("b", resolved)
	if err != nil {
		t.Errorf("%s: bulkhead.New rejects the resolved bulkhead: %v", where, err)
		return
	}
	if got := b.Config(); got != resolved {
		t.Errorf("%s: bulkhead resolves to\n%+v\nthe policy runs with\n%+v", where, resolved, got)
	}
	want := resolved.MaxConcurrent
	if resolved.Adaptive.Algorithm != bulkhead.AlgorithmNone {
		want = resolved.Adaptive.InitialLimit
	}
	if got := b.Capacity(); got != want {
		t.Errorf("%s: bulkhead capacity %d, want %d from the resolved section", where, got, want)
	}
}

// checkRateLimit builds the limiter the suite would from the resolved section: a Local (rate
// and burst compared). A fleet-wide limiter is redislimit's, a provider in its own module that
// the core's tests do not import: internal/integration's TestResolvedRedisLimitIsTheLimiters
// compares its whole Config.
func checkRateLimit(t *testing.T, where string, resolved ratelimit.Config) {
	t.Helper()
	if resolved.Redis != nil {
		return
	}
	p, err := ratelimit.New("s", nil, resolved)
	if err != nil {
		t.Errorf("%s: ratelimit.New rejects the resolved rate_limit: %v", where, err)
		return
	}
	loc, ok := p.Limiter().(*ratelimit.Local)
	if !ok {
		t.Fatalf("%s: limiter is %T, want *ratelimit.Local", where, p.Limiter())
	}
	if loc.Rate() != resolved.Rate || loc.Burst() != resolved.Burst {
		t.Errorf("%s: rate_limit resolves to rate %v burst %d, the limiter runs with rate %v burst %d",
			where, resolved.Rate, resolved.Burst, loc.Rate(), loc.Burst())
	}
}

// The three configurations of the issue: each parses, resolves as the policy does, and the
// suite builds them (so no method fails its calls with FailedPrecondition).
func TestDefaultsDriftParseAcceptsWhatNewAccepts(t *testing.T) {
	for _, tt := range []struct {
		doc   string
		check func(t *testing.T, p config.Policy)
	}{
		{`services: {a.v1.S: {retry: {throttle: {max_tokens: 0.05}}}}`, func(t *testing.T, p config.Policy) {
			if got := p.Retry.Throttle.TokenRatio; got != 0.05 {
				t.Errorf("token_ratio resolves to %v, want 0.05 (capped at max_tokens)", got)
			}
		}},
		{`services: {a.v1.S: {hedge: {max_delay: 500us}}}`, func(t *testing.T, p config.Policy) {
			if got := p.Hedge.MinDelay; got != 500*time.Microsecond {
				t.Errorf("min_delay resolves to %v, want 500us (capped at max_delay)", got)
			}
		}},
		{`services: {a.v1.S: {retry: {initial_backoff: 20s}}}`, func(t *testing.T, p config.Policy) {
			if got := p.Retry.MaxBackoff; got != 20*time.Second {
				t.Errorf("max_backoff resolves to %v, want 20s (never below initial_backoff)", got)
			}
		}},
		// The gradient backs off by backoff_ratio on an overload failure: config used to leave
		// it at 0 (resolved and explained as unset) while the bulkhead ran with 0.9.
		{`services: {a.v1.S: {bulkhead: {max_concurrent: 40, adaptive: {algorithm: gradient}}}}`, func(t *testing.T, p config.Policy) {
			if got := p.Bulkhead.Adaptive.BackoffRatio; got != bulkhead.DefaultBackoffRatio {
				t.Errorf("gradient backoff_ratio resolves to %v, want %v", got, bulkhead.DefaultBackoffRatio)
			}
			if got := p.Bulkhead.Adaptive.InitialLimit; got != 10 {
				t.Errorf("initial_limit resolves to %d, want 10 (max_concurrent/4)", got)
			}
		}},
		{`services: {a.v1.S: {rate_limit: {rate: 2.5}}}`, func(t *testing.T, p config.Policy) {
			if got := p.RateLimit.Burst; got != 3 {
				t.Errorf("burst resolves to %d, want 3 (ceil(rate))", got)
			}
		}},
	} {
		t.Run(strings.TrimSpace(tt.doc), func(t *testing.T) {
			cfg, _, err := config.Parse("drift.yaml", []byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, cfg.Resolve("/a.v1.S/M"))
			s, err := interceptors.New(cfg)
			if err != nil {
				t.Fatalf("interceptors.New rejects what Parse accepted: %v", err)
			}
			defer s.Close()
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
			if err := s.Unary()(context.Background(), "/a.v1.S/M", nil, nil, nil, invoker); err != nil {
				t.Fatalf("a call built on first use fails: %v", err)
			}
		})
	}
}
