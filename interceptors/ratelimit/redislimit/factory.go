package redislimit

import (
	"io"

	"github.com/redis/go-redis/v9"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// Factory returns the factory of Redis limiters that a suite takes with
// interceptors.WithRemoteLimiter. With a nil client each limiter dials its section's
// rate_limit.redis.addr with a client of its own (see New), closed with the suite; with a
// client, every limiter asks Redis through it (see NewWithClient) and the suite leaves it open.
// opts apply to every limiter, after the suite's clock, observer and service name.
func Factory(client redis.UniversalClient, opts ...Option) ratelimit.RemoteFactory {
	return func(key string, cfg ratelimit.Config, env ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		all := append([]Option{WithClock(env.Clock), WithObserver(env.Sink), WithService(env.Service)}, opts...)
		var (
			l   *Limiter
			err error
		)
		if client != nil {
			l, err = NewWithClient(key, client, cfg, all...)
		} else {
			l, err = New(key, cfg, all...)
		}
		if err != nil {
			return nil, nil, err
		}
		return l, l, nil
	}
}
