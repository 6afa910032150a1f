package redislimit

import (
	"io"
	"sync"
	"weak"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// Factory returns the factory of Redis limiters that a suite takes with
// interceptors.WithRemoteLimiter. With a nil client each limiter dials its section's
// rate_limit.redis.addr with a client of its own (see New), closed with the suite; with a
// client, every limiter asks Redis through it (see NewWithClient) and the suite leaves it open.
// opts apply to every limiter, after the suite's clock, observer and service name.
//
// A suite asks for a limiter per service, so services that share a bucket
// (rate_limit.shared) get one each; the fail-open limiters of one bucket (one Redis, key, rate
// and burst) that a factory builds share one local guard, so that while Redis is down the
// process admits the bucket's rate and burst between them, not a rate and a burst each.
func Factory(client redis.UniversalClient, opts ...Option) ratelimit.RemoteFactory {
	var guards guardSet
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
		if l.local != nil {
			g := guardKey{key: l.Key(), rate: l.cfg.Rate, burst: l.limit.Burst}
			if client == nil {
				g.addr = l.cfg.Redis.Addr
			}
			l.local = guards.get(g, l.local)
		}
		return l, l, nil
	}
}

// guardKey identifies a bucket's fail-open guard: its Redis (the address dialed; empty with
// the factory's client), its key and its limit.
type guardKey struct {
	addr  string
	key   string
	rate  float64
	burst int
}

// guardSet holds the guards of the limiters a factory built, weakly: a guard goes when the
// last limiter using it does.
type guardSet struct {
	mu sync.Mutex
	m  map[guardKey]weak.Pointer[rate.Limiter]
}

// get returns the guard of k, made from fresh when there is none.
func (s *guardSet) get(k guardKey, fresh *rate.Limiter) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.m[k].Value(); g != nil {
		return g
	}
	if s.m == nil {
		s.m = map[guardKey]weak.Pointer[rate.Limiter]{}
	}
	for old, p := range s.m { // forget the guards no limiter uses any more
		if p.Value() == nil {
			delete(s.m, old)
		}
	}
	s.m[k] = weak.Make(fresh)
	return fresh
}
