package interceptors

import (
	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Option configures a Suite.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	clock     clock.Clock
	sink      observe.Sink
	rand      func() float64
	fallbacks map[string]fallback.Reply
	breakers  *breaker.Registry
	limiters  *ratelimit.Registry
	remote    ratelimit.RemoteFactory
}

// WithClock sets the clock of every policy (backoff, recovery timeouts, refill, deadlines).
func WithClock(c clock.Clock) Option { return optionFunc(func(o *options) { o.clock = c }) }

// WithObserver sends the events of every policy, and the suite's CallFinished, to sink.
func WithObserver(sink observe.Sink) Option {
	return optionFunc(func(o *options) { o.sink = observe.Multi(o.sink, sink) })
}

// WithRand sets the random source of the retry jitter and of the adaptive throttle's draws; it
// must be safe for concurrent use.
func WithRand(f func() float64) Option { return optionFunc(func(o *options) { o.rand = f }) }

// WithFallback gives the reply that the fallback section of target's profile serves. target is
// a full method ("/kyc.v1.OCRService/Extract") or a service. Without it, a fallback section
// needs a reply_json.
func WithFallback(target string, reply fallback.Reply) Option {
	return optionFunc(func(o *options) {
		if o.fallbacks == nil {
			o.fallbacks = map[string]fallback.Reply{}
		}
		o.fallbacks[target] = reply
	})
}

// WithBreakerRegistry makes the suite take its breakers from r, so that several suites calling
// one service share one breaker. By default each suite has its own registry: every connection
// the suite is installed on shares its breakers, but another suite's breakers are apart.
func WithBreakerRegistry(r *breaker.Registry) Option {
	return optionFunc(func(o *options) { o.breakers = r })
}

// WithLimiterRegistry makes the suite take its shared token buckets (rate_limit.shared) from r.
func WithLimiterRegistry(r *ratelimit.Registry) Option {
	return optionFunc(func(o *options) { o.limiters = r })
}

// WithRemoteLimiter gives the suite the factory of fleet-wide rate limiters, which a
// rate_limit section with a redis sub-section needs: without one, building such a section is
// an error. Package redislimit provides it, so that this package does not depend on a Redis
// client:
//
//	interceptors.WithRemoteLimiter(redislimit.Factory(nil))    // each limiter dials rate_limit.redis.addr
//	interceptors.WithRemoteLimiter(redislimit.Factory(client)) // one client of the program's, left open
//
// It replaces WithRedisClient(c), which is WithRemoteLimiter(redislimit.Factory(c)).
func WithRemoteLimiter(f ratelimit.RemoteFactory) Option {
	return optionFunc(func(o *options) { o.remote = f })
}
