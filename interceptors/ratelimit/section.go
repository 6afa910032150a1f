package ratelimit

import (
	"fmt"
	"io"
	"strconv"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "rate_limit",
		Rank:      section.RankRateLimit,
		Normalize: Normalize,
		Check:     check,
		Deps:      deps,
		Build:     build,
	})
}

// deps returns the shared bucket the limiter of c takes (see build), by identity: a limiter
// kept from an earlier configuration holds the bucket it was built with, which a reload since
// may have replaced in the registry (its rate changed, and changed back), and such a limiter
// must be rebuilt, not taken back with a bucket no other chain shares. The bucket is the one
// build takes: the reload's stage keeps one made for it (see Registry.staged). None for a
// limiter without a shared local bucket.
func deps(env *section.Env, c Config) []any {
	r, _ := section.Value[*Registry](env)
	if c.Redis != nil || c.Shared == "" || r == nil {
		return nil
	}
	l, err := r.staged(c, env.Stage)
	if err != nil {
		return []any{nil} // build refuses it
	}
	return []any{l}
}

// check refuses, before a reload touches anything, a fleet-wide limit without a factory.
func check(env *section.Env, c Config) error {
	if c.Redis != nil {
		if remote, _ := section.Value[RemoteFactory](env); remote == nil {
			return noFactory(c)
		}
	}
	return nil
}

// noFactory is the error of c, a fleet-wide limit, without a factory: at the field redis, which
// the suite names by its path in the configuration (with the file and line of a parsed one)
// after the chain.
func noFactory(c Config) error {
	return &fielderr.Error{Path: "redis", Value: "{addr: " + strconv.Quote(c.Redis.Addr) + "}",
		Rule: "needs a remote limiter factory: pass interceptors.WithRemoteLimiter(redislimit.Factory(nil)) to New"}
}

// build makes the rate limit step of a suite's chain. Shared buckets come from the suite's
// *Registry, fleet-wide limiters from its RemoteFactory (both in env.Values); a remote
// limiter's closer is registered with env.OnClose. A shared bucket made in place of the
// registry's goes into the registry when the suite's reload commits (env.Stage), and leaves the
// registry's pending buckets when the reload rolls back (its closers run, env.OnClose).
func build(env *section.Env, c Config) (section.Built, error) {
	opts := []Option{WithClock(env.Clock), WithObserver(env.Sink)}
	r, _ := section.Value[*Registry](env)
	if r != nil {
		opts = append(opts, WithRegistry(r))
	}
	var l Limiter
	var closer io.Closer
	switch {
	case c.Redis == nil && c.Shared != "" && r != nil:
		bucket, err := r.staged(c, env.Stage)
		if err != nil {
			return section.Built{}, err
		}
		l = bucket
		if env.Stage != nil && env.OnClose != nil {
			// Run at once when the stage rolls back (or this build fails): the bucket made
			// for the stage leaves the user's pending ones. After a commit it does nothing.
			st := env.Stage
			env.OnClose(func() error { r.unstage(c.Shared, bucket, st); return nil })
		}
	case c.Redis != nil:
		key := env.Name
		if c.Shared != "" {
			key = c.Shared
		}
		remote, _ := section.Value[RemoteFactory](env)
		if remote == nil {
			return section.Built{}, noFactory(c)
		}
		rl, cl, err := remote(key, c, RemoteEnv{Service: env.Service, Clock: env.Clock, Sink: env.Sink})
		if err != nil {
			return section.Built{}, err
		}
		l, closer = rl, cl
	}
	b, err := section.Step(New(env.Service, l, c, opts...))
	switch {
	case closer == nil:
	case err != nil:
		_ = closer.Close()
	case env.OnClose != nil:
		env.OnClose(closer.Close)
	}
	return b, err
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
