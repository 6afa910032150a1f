package redislimit

import (
	"io"
	"slices"
	"sync"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// Factory returns the factory of Redis limiters that a suite takes with
// interceptors.WithRemoteLimiter. With a nil client the factory dials each section's
// rate_limit.redis.addr as New does, with one client (one connection pool) per address and
// timeout, shared by the limiters it builds for them and closed when the last of them is:
// services of one Redis share a pool, and a reload that replaces a limiter (a new rate, say)
// reuses its pool instead of opening one more until the suite closes. With a client, every
// limiter asks Redis through it (see NewWithClient) and the suite leaves it open: a Redis that
// needs a user, a password or TLS is reached this way, since rate_limit.redis names only an
// address, and a client this factory dials sends no credentials. opts apply
// to every limiter, after the suite's clock, observer and service name.
//
// A suite asks for a limiter per service, so services that share a bucket
// (rate_limit.shared) get one each, drawing on one key when they have the same rate and burst
// (a service of that name with another limit has a key, so a bucket, of its own: see Key
// layout in the package documentation); the fail-open limiters of one bucket (one Redis, key,
// rate and burst) and one clock that a factory builds share one local guard, so that while Redis
// is down the process admits the bucket's rate and burst between them, not a rate and a burst
// each. Limiters of other clocks (suites given the factory and clocks of their own) keep
// guards apart: a guard counts in its clock's times, which another clock's do not continue.
func Factory(client redis.UniversalClient, opts ...Option) ratelimit.RemoteFactory {
	var (
		guards  guardSet
		clients clientSet
	)
	return func(key string, cfg ratelimit.Config, env ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		all := append([]Option{WithClock(env.Clock), WithObserver(env.Sink), WithService(env.Service)}, opts...)
		if client != nil {
			l, err := NewWithClient(key, client, cfg, all...)
			if err != nil {
				return nil, nil, err
			}
			guards.share(l, "")
			return l, l, nil
		}
		if cfg.Redis == nil { // New's error
			_, err := New(key, cfg, all...)
			return nil, nil, err
		}
		if err := cfg.Validate(); err != nil {
			return nil, nil, err
		}
		shared, release := clients.get(cfg.Redis.Addr, ratelimit.Normalize(cfg).Redis.Timeout)
		l, err := newLimiter(key, shared, cfg, all)
		if err != nil {
			_ = release.Close()
			return nil, nil, err
		}
		guards.share(l, cfg.Redis.Addr)
		return l, release, nil
	}
}

// share gives l, when it fails open, the guard of its bucket on the Redis at addr (empty: the
// factory's client) and its clock.
func (s *guardSet) share(l *Limiter, addr string) {
	if l.local != nil {
		l.local = s.get(guardKey{addr: addr, key: l.Key(), rate: l.cfg.Rate, burst: l.limit.Burst}, l.clk, l.local)
	}
}

// clientKey identifies a client a factory dials: its address and timeout.
type clientKey struct {
	addr    string
	timeout time.Duration
}

// clientSet holds the clients a factory without a client dialed, each with the number of
// limiters that use it.
type clientSet struct {
	mu sync.Mutex
	m  map[clientKey]*sharedClient
}

type sharedClient struct {
	client *redis.Client
	users  int
}

// get returns the client of addr and timeout, dialed when no limiter uses one, and the Closer
// that gives its use back: the last one closes it.
func (s *clientSet) get(addr string, timeout time.Duration) (*redis.Client, io.Closer) {
	k := clientKey{addr, timeout}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.m[k]
	if c == nil {
		if s.m == nil {
			s.m = map[clientKey]*sharedClient{}
		}
		c = &sharedClient{client: dial(addr, timeout)}
		s.m[k] = c
	}
	c.users++
	return c.client, &clientUse{set: s, k: k, c: c}
}

// clientUse is one limiter's use of a shared client; Close gives it back once.
type clientUse struct {
	set  *clientSet
	k    clientKey
	c    *sharedClient
	once sync.Once
	err  error
}

func (u *clientUse) Close() error {
	u.once.Do(func() {
		u.set.mu.Lock()
		u.c.users--
		last := u.c.users == 0
		if last {
			delete(u.set.m, u.k)
		}
		u.set.mu.Unlock()
		if last {
			u.err = u.c.client.Close()
		}
	})
	return u.err
}

// guardKey identifies a bucket's fail-open guards, one per clock: its Redis (the address
// dialed; empty with the factory's client), its key and its limit.
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
	m  map[guardKey][]guard // Guarded by mu.
}

// guard is a bucket's guard for the limiters of one clock. The clock is not part of the map's
// key: a clock == cannot compare (a struct holding a func) would panic there.
type guard struct {
	clock clock.Clock
	g     weak.Pointer[rate.Limiter]
}

// get returns the guard of k and c, made from fresh when there is none. A clock that == cannot
// compare is the same as no other (see clock.Same): its limiter keeps fresh.
func (s *guardSet) get(k guardKey, c clock.Clock, fresh *rate.Limiter) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.m[k] {
		if v := g.g.Value(); v != nil && clock.Same(g.clock, c) {
			return v
		}
	}
	if s.m == nil {
		s.m = map[guardKey][]guard{}
	}
	for old, gs := range s.m { // forget the guards no limiter uses any more
		if gs = slices.DeleteFunc(gs, func(g guard) bool { return g.g.Value() == nil }); len(gs) == 0 {
			delete(s.m, old)
		} else {
			s.m[old] = gs
		}
	}
	s.m[k] = append(s.m[k], guard{clock: c, g: weak.Make(fresh)})
	return fresh
}
